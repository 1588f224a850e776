// `ril eval`: held-out accuracy of one or more models on a dataset split, per task family.
//
// - Models (--model NAME=PATH, repeatable), evaluated one after the other:
//     PATH a directory: an HF-layout model (model::load_pretrained: text-only Qwen2, LLaVA,
//       Qwen2.5-VL or InternVL);
//       tokenizer --tokenizer, else PATH/tokenizer.json;
//     PATH a file: a `ril train` checkpoint (kind "checkpoint"): the student's tensors in group
//       "student" (io::save_tensors, names = model::module_tensors names, i.e. HF 4.x names),
//       root attributes "student_config" (the model's config.json text) and "student_tokenizer"
//       (path of its tokenizer.json); the scalar dataset "step" is reported when present
//       (io/checkpoint_schema.h: `ril sft` checkpoints have the same contents since issue 12).
//       Tokenizer --tokenizer, else student_tokenizer.
// - Questions: the --split of --dataset (ascending example index), the first --limit of them.
// - Prompt: exactly as SFT builds it (SftBatchBuilder::prompt_ids: ChatML user turn with the
//   model's image placeholders for a vision family, text only for Qwen2), left-padded; images
//   preprocessed by the model's family as in SFT (model::preprocess_images).
// - Generation: greedy, at most --max-new-tokens, a row ends at <|im_end|> (also at the
//   tokenizer's eos and the model's eos ids). The response is the decoded text before the stop
//   token (special tokens skipped); its length counts the stop token.
// - Scoring: data::AnswerChecker against the ground truth (the question's echo removed).
// - --judge DIR (issue 16): every answer is also read by an LLM judge (roles/judge.h: the
//   question, the ground truth and the response in the JudgePrompt form, greedy, batched), on
//   the rank that produced it. Its verdict is reported beside the rule checker's: judge accuracy
//   (an unparsed or cut verdict counts 0), agreement with the rule checker, unparsed verdicts.
//   The rule checker's accuracy stays the first block and the --compare intervals.
// - Sharding: global batch k = questions [k * B, (k + 1) * B) (B = --batch) goes to world rank
//   k mod W (roles::eval_batches_for_rank, dist/sharding.h). A batch is computed the same whatever W is, so the results do not depend on the
//   number of ranks (on CPU with the same thread count per rank; bitwise-equal greedy tokens).
//   Every rank's answers are gathered to world rank 0, which scores them, prints the table on
//   stdout and writes the JSON (--out, default <run-dir>/eval.json; atomically).
// Which ranks call: every rank of the job. Input errors (missing dataset/model/tokenizer, a file
// that is not a train checkpoint, an empty split, a tokenizer larger than the model's
// vocabulary, an image token clash) throw ConfigError alike on every rank before any model is
// loaded.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ril/algo/judge_verdict.h"
#include "ril/algo/paired_bootstrap.h"
#include "ril/common/config.h"
#include "ril/data/answer_checker.h"
#include "ril/dist/rank_groups.h"
#include "ril/roles/greedy_answerer.h"

namespace ril::model {
struct PretrainedModel;
}  // namespace ril::model

namespace ril::jobs {

using roles::EvalAnswer;

// ---- models ----------------------------------------------------------------------------------

struct EvalModelSpec {
  std::string name, path;
};
// "NAME=PATH" each; throws ConfigError on a malformed spec or a name given twice.
std::vector<EvalModelSpec> parse_eval_models(const std::vector<std::string>& specs);

// A --model resolved without loading weights.
struct EvalModelSource {
  std::string name, path;
  bool checkpoint = false;       // a train checkpoint file; else an HF-layout directory
  std::string config_text;       // config.json text (either kind)
  std::string tokenizer_path;    // --tokenizer, PATH/tokenizer.json or the checkpoint's
  int64_t step = -1;             // checkpoint: its "step" when stored
};
// Throws ConfigError naming the model and the problem (see above).
EvalModelSource resolve_eval_model(const EvalModelSpec& spec, const std::string& tokenizer_override);
// The model with its weights (float32, CPU). Throws ril::Error (strict loading: missing,
// unexpected and mis-shaped tensors are listed).
model::PretrainedModel load_eval_model(const EvalModelSource& source);

// ---- sharding --------------------------------------------------------------------------------

// Global batch k = questions [k * batch, (k + 1) * batch) goes to rank k mod ranks (shared with
// `ril train --val-every`, roles/greedy_answerer.h).
using roles::eval_batches_for_rank;

// ---- scoring and reports (pure; rank 0) -----------------------------------------------------

struct EvalQuestion {   // ground truth of one question
  int64_t index = 0;    // example index in the dataset
  std::string family;
  std::string question;
  std::string answer;
};


struct EvalScore {
  int64_t correct = 0, total = 0, tokens = 0;
  int64_t unparsed = 0;  // responses in which the checker found no answer (none, or conflicting ones)
  // With --judge: answers judged, judged correct, verdicts that did not parse (or were cut), and
  // answers on which the judge (unparsed = 0) and the rule checker agree.
  int64_t judged = 0, judge_correct = 0, judge_unparsed = 0, judge_agree = 0;
  // Disagreements: false positive = judge 1, rule 0; false negative = judge 0 (or unparsed),
  // rule 1. Rates are over the answers the rule checker calls wrong, resp. right.
  int64_t judge_false_positive = 0, judge_false_negative = 0, judged_rule_correct = 0;
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
  double mean_tokens() const { return total > 0 ? static_cast<double>(tokens) / static_cast<double>(total) : 0.0; }
  double unparsed_share() const { return total > 0 ? static_cast<double>(unparsed) / static_cast<double>(total) : 0.0; }
  double judge_share(int64_t n) const { return judged > 0 ? static_cast<double>(n) / static_cast<double>(judged) : 0.0; }
  double judge_false_positive_rate() const {
    const int64_t rule_wrong = judged - judged_rule_correct;
    return rule_wrong > 0 ? static_cast<double>(judge_false_positive) / static_cast<double>(rule_wrong) : 0.0;
  }
  double judge_false_negative_rate() const {
    return judged_rule_correct > 0 ? static_cast<double>(judge_false_negative) / static_cast<double>(judged_rule_correct)
                                   : 0.0;
  }
};

struct EvalQuestionResult {
  int64_t index = 0;
  std::string family;
  bool correct = false;
  int64_t tokens = 0;
  std::string expected, extracted, reason, response;
  std::string judge, judge_reason;  // with --judge: "correct" | "wrong" | "unparsed", and why; else ""
};

// The judge's verdict on one answer (--judge).
struct EvalJudgement {
  int64_t index = 0;  // example index in the dataset
  algo::JudgeDecision decision = algo::JudgeDecision::kUnparsed;
  std::string reason;
  int64_t tokens = 0;  // the judge's generated tokens
};

struct EvalModelResult {
  std::string name, path;
  std::string source;        // "hf_dir" | "checkpoint"
  std::string model_type;    // "qwen2" | "llava" | "qwen2_5_vl" | "internvl"
  std::string tokenizer;
  int64_t checkpoint_step = -1;
  std::vector<std::pair<std::string, EvalScore>> families;  // in the given family order, present ones only
  EvalScore overall;
  std::vector<EvalQuestionResult> questions;  // in question order
};

// Checks every answer against its question and aggregates. `answers` may come in any order but
// must hold each question exactly once (ril::Error naming the index otherwise). Families are
// listed in `family_order` (those without questions left out; unknown ones appended by name).
// `judgements` (--judge; empty: none): one per answer, any order.
EvalModelResult score_answers(const std::vector<EvalQuestion>& questions, const std::vector<EvalAnswer>& answers,
                              const std::vector<std::string>& family_order, const data::AnswerChecker& checker,
                              const std::vector<EvalJudgement>& judgements = {});

// --compare A:B: model A's accuracy minus model B's on the same questions, with a 95 % paired
// bootstrap interval over questions (algo/paired_bootstrap.h), per family and overall.
struct EvalComparison {
  std::string a, b;
  std::vector<std::pair<std::string, algo::BootstrapInterval>> families;  // table order
  algo::BootstrapInterval overall;
};
// "A:B" each, naming models of `models`; throws ConfigError otherwise.
std::vector<std::pair<std::string, std::string>> parse_eval_comparisons(const std::vector<std::string>& specs,
                                                                        const std::vector<EvalModelSpec>& models);
// From two scored models (same questions, in the same order).
EvalComparison compare_models(const EvalModelResult& a, const EvalModelResult& b);

struct EvalReport {
  std::string dataset, split;
  int64_t limit = 0;
  int64_t questions = 0;
  std::vector<std::pair<std::string, int64_t>> families;  // family -> questions, in table order
  int64_t batch = 0, max_new_tokens = 0;
  int ranks = 1;
  std::string ril_version;
  std::string command_line;                                // "" when unknown
  std::vector<std::pair<std::string, std::string>> config; // the resolved options
  std::vector<EvalModelResult> models;
  std::vector<EvalComparison> comparisons;
  // --judge: its directory, prompt source, budget, and its speed over the whole run.
  std::string judge, judge_prompt;
  int64_t judge_max_new_tokens = 0, judge_tokens = 0;
  double judge_seconds = 0;
};

// Three blocks, each with one row per family and one for overall (question counts in column 2):
// accuracy (%) per model and, per comparison, "A - B" in points with its 95 % interval; mean
// response tokens per model; unparsed answers (%) per model. With --judge, three more: the
// judge's accuracy, its agreement with the rule checker and its unparsed verdicts (%).
std::string eval_table(const EvalReport& report);
// The JSON document (2-space indent): dataset, split, limit, questions, families, settings,
// ril version, command line, resolved config; per model its source, per-family and overall
// correct/total/accuracy/mean_response_tokens, and every question's verdict and response.
std::string eval_json(const EvalReport& report);

// This process's command line (Linux /proc/self/cmdline), shell-quoted; "" when unavailable.
std::string current_command_line();

void run_eval_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::jobs
