// Training examples for an LLM judge (issue 16 item 4): the synthetic tasks have exact answers, so
// a small judge can be trained by SFT on (question, ground truth, response) triples labelled by
// the rule checker (data/answer_checker.h).
//
// For one dataset question, candidate responses of varied quality:
//   teacher      a cached teacher response (when a teacher cache is given)
//   rationale    the dataset's reference rationale, in each style
//   swapped      a good response with its answer replaced by another valid answer of the family
//                (the answer of another question of the same family, of the same kind); two of
//                them, since a clean answer that differs is what needs the comparison
//   no-answer    a good response with its "Answer:" line(s) removed
//   cut          a good response cut at a random word
//   two-answers  a good response followed by "Answer: <other answer>"
// Every candidate is labelled by AnswerChecker::check (the label is whatever the rule says, not
// the variant's intent: a steps rationale without its Answer line often still ends with the
// answer). make() then picks `per_question` of them, half with label 1 and half with label 0
// where the candidates allow, so both labels are well represented; the wrong ones alternate
// swapped and form-only (two answers, none, cut), swapped first.
//
// Target (what the judge learns to write), copy then compare, in the judge prompt's form:
//   "<extracted> vs <ground truth>. <answer>1</answer>"   e.g. "3 vs 3. <answer>1</answer>"
//   "two vs <ground truth>. <answer>0</answer>"           (conflicting answers)
//   "none vs <ground truth>. <answer>0</answer>"          (no answer)
// (<extracted> is the rule checker's normalised answer). parse_judge_verdict() reads every target.
// Short on purpose: the verdict is one of ~23 target tokens (the sentence form "The response
// answers 3; the truth is 3." made it one of ~45, and a tiny judge trained on it never learned the
// comparison: bench/experiment.md).
// Prompt: JudgePrompt::render (the judge role's code); the caller wraps it in the chat template.
// Pure CPU string work, one process (ril-data judge-set; tests).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ril/algo/judge_prompt.h"
#include "ril/data/answer_checker.h"
#include "ril/data/data_rng.h"
#include "ril/data/dataset.h"

namespace ril::algo {

struct JudgeExample {
  int64_t question_id = 0;  // index into the source dataset
  std::string variant;      // "teacher", "rationale", "swapped", "no-answer", "cut", "two-answers"
  std::string response;     // the response the judge reads
  bool correct = false;     // the rule checker's verdict on the response
  std::string prompt;       // the rendered judge prompt (user turn text)
  std::string target;       // explanation + <answer>v</answer>
};

struct JudgeExampleOptions {
  int64_t per_question = 4;  // examples kept per source question (>= 1)
  uint64_t seed = 1;
};

// The explanation + verdict the judge should write for the rule checker's verdict `v` on a
// response to a question whose ground truth is `ground_truth`.
std::string judge_target(const data::AnswerVerdict& v, const std::string& ground_truth);

class JudgeExampleMaker {
 public:
  // `teacher_responses`: question id -> cached teacher responses (may be empty).
  JudgeExampleMaker(const data::Dataset& dataset, std::map<int64_t, std::vector<std::string>> teacher_responses,
                    JudgePrompt prompt, JudgeExampleOptions options);
  // Every candidate response to `question_id`, labelled (tests; make() picks from these).
  std::vector<JudgeExample> candidates(int64_t question_id, data::DataRng& rng) const;
  // The examples of one question: candidates(), balanced and cut to per_question.
  std::vector<JudgeExample> make(int64_t question_id) const;

 private:
  std::string other_answer(int64_t question_id, data::DataRng& rng) const;
  JudgeExample labelled(int64_t question_id, std::string variant, std::string response) const;

  const data::Dataset& dataset_;
  std::map<int64_t, std::vector<std::string>> teacher_responses_;
  JudgePrompt prompt_;
  JudgeExampleOptions options_;
  data::AnswerChecker checker_;
  std::map<std::string, std::vector<int64_t>> by_family_;  // family -> question ids (all splits)
};

}  // namespace ril::algo
