// The rollout role (DESIGN.md section 2): samples G student responses per question with the
// current student weights (the learner's WeightSync keeps them current; on a rank that is also
// a learner the two share one model, so nothing is copied).
//
// Question j of the step belongs to rollout rank j mod R (dist/sharding.h). Each question is ONE
// generate call of G rows (the prompt repeated, image included), seeded by
// step_question_seed(seed, step, question, kRolloutStream): the responses do not depend on the
// number of rollout ranks. A response keeps its sampled ids (exact, for the learner's ratio) and
// the decoded text without the stop token and without ids beyond the tokenizer (model vocab
// padding); `finished` says it ended with a stop token (<|im_end|>, or the tokenizer's eos).
// Which ranks call: rollout ranks; no communication.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ril/data/dataset.h"
#include "ril/dist/communicator.h"
#include "ril/model/generator.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/response.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {

struct RolloutOptions {
  int64_t group = 4;            // G: responses per question
  int64_t max_new_tokens = 64;  // the token budget
  double temperature = 1.0;
  double top_p = 0.95;
  int64_t top_k = 50;
  double repetition_penalty = 1.05;
  uint64_t seed = 0;            // run seed
};

class RolloutWorker {
 public:
  // Keeps references to `tokenizer` and `dataset`, and a share of `student`.
  RolloutWorker(std::shared_ptr<PolicyModel> student, const text::BpeTokenizer& tokenizer,
                const data::Dataset& dataset, const RolloutOptions& options);

  // G responses to each question of `questions` (the step's, in order) that this rank of the
  // rollout group owns; step is 0-based. Each carries `version` (the weight version this rank
  // holds) and the log-prob of each sampled id under these weights.
  Responses sample(int64_t step, const std::vector<int64_t>& questions, const dist::Communicator& group,
                   int64_t version = 0);

 private:
  Responses sample_question(int64_t step, int64_t question, int64_t version);

  std::shared_ptr<PolicyModel> student_;
  const text::BpeTokenizer& tokenizer_;
  const data::Dataset& dataset_;
  RolloutOptions options_;
  model::GenerationOptions generation_;
  SftBatchBuilder builder_;
};

}  // namespace ril::roles
