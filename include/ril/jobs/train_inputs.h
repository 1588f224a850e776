// `ril train`'s inputs, checked alike on every rank before anything is allocated: the dataset and
// its splits, the student and its tokenizer, the teacher cache and the chosen teachers, the
// discriminator to start from; and the closed choices of the command line parsed once, here, into
// types (stage, resume mode, what the ablations switch on or off).
// Which ranks call: every rank (ConfigError alike on all of them).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ril/common/config.h"
#include "ril/algo/judge_prompt.h"
#include "ril/algo/rewards.h"
#include "ril/data/dataset.h"
#include "ril/dist/role_map.h"
#include "ril/io/judge_verdict_cache.h"
#include "ril/model/model_config.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::jobs {

enum class TrainStage { kDisc, kRil };
TrainStage parse_train_stage(const std::string& text);  // "disc" | "ril"; ConfigError otherwise
const char* train_stage_name(TrainStage stage);         // "disc", "ril" (as stored in checkpoints)

// --resume: auto (the newest complete checkpoint of the run dir, if any) | no (refuse a run dir
// that has checkpoints) | PATH (that checkpoint's main file).
enum class ResumeMode { kAuto, kNo, kPath };
struct ResumeRequest {
  ResumeMode mode = ResumeMode::kAuto;
  std::string path;  // kPath only
  static ResumeRequest parse(const std::string& text);
};

// The role map of `ril train` (every rank alike, before anything is allocated): --layout's, or
// with --judge and --layout auto the derived one with the judge on the teacher ranks. ConfigError
// when --judge is given and the layout has no judge rank, or the layout has judge ranks and no
// --judge is given (they would idle).
dist::RoleMap train_role_map(const std::string& layout, int world_size, const TrainConfig& t);

struct TrainInputs {
  TrainStage stage = TrainStage::kRil;
  ResumeRequest resume;
  std::optional<data::Dataset> dataset;
  std::optional<text::BpeTokenizer> tokenizer;
  std::string tokenizer_path;
  model::ModelConfig student_config;
  std::string student_config_text;    // canonical config.json text (compared on resume)
  std::vector<std::string> teachers;  // selected teacher names, in order (Response::source index)
  std::vector<int64_t> train;         // train split indices (the first --train-limit)
  std::vector<int64_t> val;           // --val-every: the val questions scored
  bool use_teachers = false;          // teacher responses take part (D input, policy gradient)
  bool use_disc = false;              // D scores enter the reward (or are the stage's product)
  bool train_disc = false;            // D is updated
  bool train_student = false;         // the student is updated (ril stage)
  algo::AnswerReward answer_reward = algo::AnswerReward::kRule;
  std::optional<algo::JudgePrompt> judge_prompt;  // --judge: the judge's template (checked)
  std::set<int64_t> kill_after_verdict_steps;  // fault injection: RIL_FAULT_KILL_AFTER_VERDICTS_STEPS=2 (the judge root SIGKILLs itself once step 2's verdicts are saved)
  std::set<int64_t> nan_steps;        // fault injection: RIL_FAULT_NAN_STEPS=3,4 (1-based steps)
  std::set<int64_t> inf_param_steps;  // fault injection: RIL_FAULT_INF_PARAM_STEPS=2 (a student weight inf after it)

  bool ril() const { return stage == TrainStage::kRil; }
  bool use_judge() const { return answer_reward != algo::AnswerReward::kRule; }
};

// `run_dir`: with --judge, a verdict cache left there by an earlier run must be this judge's
// (io/judge_verdict_cache.h), checked here on every rank rather than later on the judge root alone.
TrainInputs check_train_inputs(const TrainConfig& t, const std::string& run_dir);

// <run-dir>/judge_verdicts.h5 and the settings its verdicts belong to.
std::string judge_verdicts_path(const std::string& run_dir);
io::JudgeVerdictSettings judge_verdict_settings(const TrainConfig& t, const TrainInputs& in);

// The run's first log line: stage, student, questions, teachers, ablations, steps from -> to.
std::string describe_run(const TrainInputs& in, const TrainConfig& t, int64_t from_step);

}  // namespace ril::jobs
