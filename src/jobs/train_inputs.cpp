#include "ril/jobs/train_inputs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/common/fault_injection.h"
#include "ril/io/teacher_cache.h"
#include "ril/model/checkpoint.h"
#include "ril/roles/discriminator_prompt.h"
#include "ril/roles/generation_budget.h"
#include "ril/roles/judge.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/sft_batch.h"

namespace ril::jobs {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split_names(const std::vector<std::string>& specs) {
  std::vector<std::string> out;
  for (const std::string& spec : specs) {
    std::stringstream in(spec);
    std::string name;
    while (std::getline(in, name, ',')) {
      name.erase(0, name.find_first_not_of(" \t"));
      name.erase(name.find_last_not_of(" \t") + 1);
      if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

template <typename F>
auto as_config_error(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(cat("ril train: ", what, ": ", e.what()));
  }
}

void check_data(const TrainConfig& t, TrainInputs& in) {
  RIL_CONFIG_CHECK(fs::exists(t.dataset), "ril train: --dataset '", t.dataset, "' does not exist");
  in.dataset.emplace(as_config_error("--dataset", [&] { return data::Dataset::open(t.dataset); }));
  in.train = in.dataset->indices(data::Split::kTrain);
  RIL_CONFIG_CHECK(!in.train.empty(), "ril train: ", t.dataset, " has an empty train split");
  if (t.train_limit > 0 && static_cast<int64_t>(in.train.size()) > t.train_limit) {
    in.train.resize(static_cast<size_t>(t.train_limit));
  }
  if (t.val_every > 0) {
    in.val = in.dataset->indices(data::Split::kVal);
    RIL_CONFIG_CHECK(!in.val.empty(), "ril train: --val-every ", t.val_every, " but ", t.dataset,
                     " has an empty val split");
    if (static_cast<int64_t>(in.val.size()) > t.val_questions) in.val.resize(static_cast<size_t>(t.val_questions));
  }
}

void check_student(const TrainConfig& t, TrainInputs& in) {
  RIL_CONFIG_CHECK(fs::exists(fs::path(t.student) / "config.json"), "ril train: --student '", t.student,
                   "' is not a model directory (no config.json); make one with ril sft");
  in.student_config = as_config_error("--student", [&] { return model::load_model_config(t.student); });
  in.student_config_text = model::model_config_to_json(in.student_config).dump();
  in.tokenizer_path = t.tokenizer.empty() ? (fs::path(t.student) / "tokenizer.json").string() : t.tokenizer;
  RIL_CONFIG_CHECK(fs::exists(in.tokenizer_path), "ril train: tokenizer '", in.tokenizer_path,
                   "' does not exist (give --tokenizer)");
  in.tokenizer.emplace(
      as_config_error("tokenizer", [&] { return text::BpeTokenizer::from_tokenizer_json(in.tokenizer_path); }));
  const int64_t vocab = in.student_config.text().vocab_size;
  RIL_CONFIG_CHECK(in.tokenizer->vocab_size() <= vocab, "ril train: tokenizer ", in.tokenizer_path, " has ",
                   in.tokenizer->vocab_size(), " tokens, the student (", t.student, ") only ", vocab,
                   ": they do not belong together");
  if (in.student_config.kind == model::ModelKind::kLlava) {
    const int64_t size = in.student_config.llava.vision_config.image_size;
    RIL_CONFIG_CHECK(in.dataset->image_height() == size && in.dataset->image_width() == size, "ril train: ",
                     t.dataset, " has ", in.dataset->image_height(), "x", in.dataset->image_width(),
                     " images; the student's vision tower takes ", size, "x", size);
  }
  if (in.student_config.has_vision()) {
    roles::check_image_token(in.student_config, *in.tokenizer, cat("ril train: --student ", t.student));
    // The family takes images of the dataset's size (Qwen2.5-VL: min/max pixels; InternVL: tiles).
    try {
      roles::model_batch_options(in.student_config, in.dataset->image_height(), in.dataset->image_width());
    } catch (const Error& e) {
      throw ConfigError(cat("ril train: --dataset ", t.dataset, ": ", e.what()));
    }
  }
}

void check_teachers(const TrainConfig& t, TrainInputs& in) {
  RIL_CONFIG_CHECK(fs::exists(t.teacher_cache), "ril train: --teacher-cache '", t.teacher_cache,
                   "' does not exist; fill it with ril teach");
  io::TeacherCache cache = as_config_error("--teacher-cache", [&] { return io::TeacherCache::open(t.teacher_cache); });
  const io::DatasetFingerprint fp = io::dataset_fingerprint(t.dataset);
  RIL_CONFIG_CHECK(fp.text == cache.dataset_fingerprint_text(), "ril train: the teacher cache ", t.teacher_cache,
                   " was built for another dataset (", cache.dataset_path(), ") than --dataset ", t.dataset,
                   " (their fingerprints differ); rebuild it with ril teach --dataset ", t.dataset);
  const std::vector<std::string> available = cache.teachers();
  in.teachers = t.teachers.empty() ? available : split_names(t.teachers);
  RIL_CONFIG_CHECK(!in.teachers.empty(), "ril train: the teacher cache ", t.teacher_cache, " holds no teacher");
  for (const std::string& name : in.teachers) {
    RIL_CONFIG_CHECK(cache.has_teacher(name), "ril train: teacher '", name, "' is not in ", t.teacher_cache,
                     " (it has: ", joined(available), ")");
    const std::map<int64_t, int64_t> counts = cache.response_counts(name);
    int64_t missing = 0, example = -1;
    for (int64_t q : in.train) {
      auto it = counts.find(q);
      if (it == counts.end() || it->second == 0) {
        if (missing++ == 0) example = q;
      }
    }
    RIL_CONFIG_CHECK(missing == 0, "ril train: teacher '", name, "' has no response for ", missing, " of ",
                     in.train.size(), " train questions (e.g. question ", example,
                     "); finish the cache with ril teach (it resumes)");
  }
}

// Rollouts (+ the learner's stop token) and the val answers must fit the student's positions.
void check_budgets(const TrainConfig& t, const TrainInputs& in) {
  roles::GenerationBudget b;
  b.model = cat("the student ", t.student);
  b.max_positions = in.student_config.text().max_position_embeddings;
  try {
    const roles::SftBatchBuilder prompts(*in.tokenizer, roles::rl_batch_options(in.student_config, in.dataset->image_height(),
                                                                                in.dataset->image_width(), t.max_new_tokens));
    b.option = "--max-new-tokens";
    b.max_new_tokens = t.max_new_tokens;
    b.extra_positions = 1;
    roles::check_generation_budget(b, roles::longest_prompt(prompts, *in.dataset, in.train));
    if (!in.val.empty()) {
      b.option = "--val-max-new-tokens";
      b.max_new_tokens = t.val_max_new_tokens;
      b.extra_positions = 0;
      roles::check_generation_budget(b, roles::longest_prompt(prompts, *in.dataset, in.val));
    }
  } catch (const ConfigError& e) {
    throw ConfigError(cat("ril train: ", e.what()));
  }
}

void check_discriminator(const TrainConfig& t, const TrainInputs& in) {
  RIL_CONFIG_CHECK(fs::exists(fs::path(t.discriminator) / "config.json"), "ril train: --discriminator '",
                   t.discriminator, "' is not a model directory (run ril train --stage disc first)");
  const model::ModelConfig d = as_config_error("--discriminator", [&] { return model::load_model_config(t.discriminator); });
  const model::Qwen2Config& s = in.student_config.text();
  RIL_CONFIG_CHECK(d.text().vocab_size == s.vocab_size && d.text().hidden_size == s.hidden_size &&
                       d.text().num_hidden_layers == s.num_hidden_layers,
                   "ril train: --discriminator ", t.discriminator, " (vocab ", d.text().vocab_size, ", hidden ",
                   d.text().hidden_size, ", layers ", d.text().num_hidden_layers,
                   ") is not a mirror of the student (vocab ", s.vocab_size, ", hidden ", s.hidden_size, ", layers ",
                   s.num_hidden_layers, ")");
  // D is scored under the system message it was trained with (stored beside it).
  const std::string stored = as_config_error("--discriminator", [&] { return roles::stored_discriminator_system(t.discriminator); });
  RIL_CONFIG_CHECK(t.disc_system.empty() || t.disc_system == stored, "ril train: --disc-system '", t.disc_system,
                   "' differs from the system message the discriminator in ", t.discriminator, " was trained with ('",
                   stored, "'); drop --disc-system or pass that one");
}

}  // namespace

TrainStage parse_train_stage(const std::string& text) {
  if (text == "disc") return TrainStage::kDisc;
  if (text == "ril") return TrainStage::kRil;
  throw ConfigError(cat("--stage must be disc or ril, got '", text, "'"));
}

const char* train_stage_name(TrainStage stage) { return stage == TrainStage::kDisc ? "disc" : "ril"; }

ResumeRequest ResumeRequest::parse(const std::string& text) {
  RIL_CONFIG_CHECK(!text.empty(), "--resume must be auto, no or a checkpoint path");
  if (text == "auto") return {ResumeMode::kAuto, ""};
  if (text == "no") return {ResumeMode::kNo, ""};
  return {ResumeMode::kPath, text};
}

dist::RoleMap train_role_map(const std::string& layout, int world_size, const TrainConfig& t) {
  const bool judge = !t.judge.empty();
  const bool automatic = layout.empty() || layout == "auto";
  dist::RoleMap map = dist::RoleMap::from_spec(layout, world_size);
  if (judge && automatic) map = map.colocate(dist::Role::kJudge, dist::Role::kTeacher);
  const bool has_judge = !map.ranks(dist::Role::kJudge).empty();
  RIL_CONFIG_CHECK(!judge || has_judge, "ril train: --judge is given but --layout '", layout,
                   "' has no judge rank: add one (e.g. judge=1) or colocate it with the teachers (teacher+judge=1)");
  RIL_CONFIG_CHECK(judge || !has_judge, "ril train: --layout '", layout,
                   "' has judge ranks but no --judge DIR is given: give the judge model or drop the judge role");
  if (t.max_staleness > 0) {  // overlap needs rollout ranks that are free while the learner works
    for (int rank : map.ranks(dist::Role::kRollout)) {
      RIL_CONFIG_CHECK(!map.has(rank, dist::Role::kLearner), "ril train: --max-staleness ", t.max_staleness,
                       " overlaps the rollout of step t+1 with learning on step t, but world rank ", rank,
                       " holds both the rollout and the learner role in --layout '", layout,
                       "'; give the rollout role ranks of its own (e.g. rollout=1,teacher+discriminator+learner=1) ",
                       "or use --max-staleness 0");
    }
  }
  return map;
}

// --judge: the judge model directory and prompt pass every check that needs no weights
// (roles::JudgeModel's constructor: config.json, tokenizer.json with the chat tokens, budget).
void check_judge(const TrainConfig& t, TrainInputs& in) {
  in.judge_prompt = t.judge_prompt.empty() ? algo::JudgePrompt() : algo::JudgePrompt::from_file(t.judge_prompt);
  const roles::JudgeModel checked(t.judge, *in.judge_prompt, t.judge_max_new_tokens, "ril train: --judge");
}

std::string judge_verdicts_path(const std::string& run_dir) { return (fs::path(run_dir) / "judge_verdicts.h5").string(); }

io::JudgeVerdictSettings judge_verdict_settings(const TrainConfig& t, const TrainInputs& in) {
  return {t.judge, in.judge_prompt->text(), t.judge_max_new_tokens, t.max_new_tokens};
}

TrainInputs check_train_inputs(const TrainConfig& t, const std::string& run_dir) {
  TrainInputs in;
  in.stage = parse_train_stage(t.stage);
  in.resume = ResumeRequest::parse(t.resume);
  in.use_teachers = !in.ril() || !t.no_discriminator;
  in.use_disc = in.use_teachers;
  in.train_disc = (!in.ril() || !t.frozen_discriminator) && in.use_disc;
  in.train_student = in.ril();
  in.nan_steps = fault_steps("RIL_FAULT_NAN_STEPS");
  in.inf_param_steps = fault_steps("RIL_FAULT_INF_PARAM_STEPS");
  in.kill_after_verdict_steps = fault_steps("RIL_FAULT_KILL_AFTER_VERDICTS_STEPS");
  in.answer_reward = algo::parse_answer_reward(t.answer_reward);
  if (in.use_judge()) {
    check_judge(t, in);
    const io::JudgeVerdictCache earlier(judge_verdicts_path(run_dir), judge_verdict_settings(t, in));  // another judge's: ConfigError
  }
  check_data(t, in);
  check_student(t, in);
  check_budgets(t, in);
  if (in.use_teachers) check_teachers(t, in);
  if (in.ril() && in.use_disc && !t.discriminator.empty()) check_discriminator(t, in);
  return in;
}

std::string describe_run(const TrainInputs& in, const TrainConfig& t, int64_t from_step) {
  return cat("stage ", t.stage, ": student ", t.student, " (", model::model_kind_name(in.student_config.kind), "), ",
             in.train.size(), " train questions, ", t.questions, " per step, G = ", t.group,
             in.use_teachers ? cat(", teachers ", joined(in.teachers)) : std::string(", no teachers"),
             in.use_disc ? (in.train_disc ? ", discriminator updated" : ", discriminator frozen") : ", no discriminator",
             t.no_answer_reward ? ", no answer reward" : "",
             in.use_judge() ? cat(", answer reward ", t.answer_reward, " (judge ", t.judge, ")") : std::string(),
             t.advantage == "student-baseline" ? ", student-baseline advantages" : "",
             t.teacher_advantage == "answer" ? ", teacher advantages = their answer reward" : "",
             t.imitation_weight != 1.0 || t.imitation_per_response
                 ? cat(", teacher advantages x ", t.imitation_weight, t.imitation_per_response ? " per response" : "")
                 : std::string(),
             "; steps ", from_step, " -> ", t.steps);
}

}  // namespace ril::jobs
