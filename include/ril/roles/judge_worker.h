// The judge role in the RIL loop (issue 16; DESIGN.md section 1, step 5): the LLM judge's
// verdict on every one of the 2G responses of each question, student and teacher responses
// alike, for the answer part of the reward (--answer-reward judge|both).
//
// Per step, collective over the judge group (host communicator):
//   root   all responses of the step (canonical order). Each distinct (question, text) is judged
//          once; a teacher response whose verdict is in the run's verdict cache
//          (io/judge_verdict_cache.h) is not judged again (teacher texts never change)
//   -> the texts to judge, from the root to every judge rank; item i is judged by rank i mod J,
//      greedy, in batches of kJudgeBatch (roles/judge.h: KV cache, strict verdict parse)
//   -> decisions back to the root, which adds the teacher ones to the cache and saves it
//      (atomically) before the verdicts leave the judge group.
// An unparsed or budget-cut verdict is a decision like the others (kUnparsed: reward 0, counted).
// Which ranks call: judge ranks (judge(): every member of the judge group, every step).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/algo/judge_prompt.h"
#include "ril/data/dataset.h"
#include "ril/dist/communicator.h"
#include "ril/io/judge_verdict_cache.h"
#include "ril/roles/judge.h"
#include "ril/roles/response.h"

namespace ril::roles {

// The verdicts of one step, as they travel to the learners (one host message).
struct JudgeResult {
  std::vector<int8_t> decisions;  // [N] algo::JudgeDecision per response of the step, canonical order
  int64_t judged = 0;             // texts the judge model read this step (cache hits and repeats not counted)
  int64_t cached = 0;             // teacher responses whose verdict came from the cache
  int64_t tokens = 0;             // tokens the judge generated this step (all judge ranks)

  std::string encode() const;
  static JudgeResult decode(const std::string& bytes);  // throws ril::Error on a malformed buffer
};

struct JudgeWorkerOptions {
  std::string dir;                  // --judge
  algo::JudgePrompt prompt;         // --judge-prompt (or the built-in one)
  int64_t max_new_tokens = 96;      // --judge-max-new-tokens
  std::string cache_path;           // <run-dir>/judge_verdicts.h5
  io::JudgeVerdictSettings cache_settings;  // stored with the cached verdicts (checked on reopen)
  std::set<int64_t> kill_after_steps;  // fault injection (tests): SIGKILL after saving these steps' verdicts (1-based)
};

class JudgeWorker {
 public:
  static constexpr size_t kJudgeBatch = 32;  // texts per greedy batch on one rank

  // Loads the judge onto `device`; the root reads the verdict cache. Keeps references to
  // `dataset` and `group`.
  JudgeWorker(const data::Dataset& dataset, JudgeWorkerOptions options, dist::Communicator& group,
              at::Device device);
  ~JudgeWorker();

  // Step `step` (0-based): `responses` are read on the root (all of the step, canonical order).
  // Returns the verdicts on the root, {} on the other judge ranks.
  JudgeResult judge(int64_t step, const Responses& responses);

 private:
  const data::Dataset& dataset_;
  JudgeWorkerOptions options_;
  dist::Communicator& group_;
  at::Device device_;
  JudgeModel model_;
  std::unique_ptr<io::JudgeVerdictCache> cache_;  // root only
};

}  // namespace ril::roles
