#include "ril/roles/train_job.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ril/algo/advantages.h"
#include "ril/algo/discriminator_loss.h"
#include "ril/algo/policy_loss.h"
#include "ril/algo/rewards.h"
#include "ril/algo/schedules.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/stop_signal.h"
#include "ril/data/answer_checker.h"
#include "ril/data/dataset.h"
#include "ril/dist/weight_sync.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/metrics_table.h"
#include "ril/io/module_state.h"
#include "ril/io/teacher_cache.h"
#include "ril/model/checkpoint.h"
#include "ril/model/discriminator.h"
#include "ril/model/generator.h"
#include "ril/model/llava_model.h"
#include "ril/roles/discriminator_prompt.h"
#include "ril/roles/eval_job.h"
#include "ril/roles/greedy_answerer.h"
#include "ril/roles/gradient_sync.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/response_wire.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {
namespace {

namespace fs = std::filesystem;
using dist::Channel;
using dist::Role;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kRolloutStream = 1, kTeacherStream = 2, kDiscInitStream = 3;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string duration_text(double s) {
  const int64_t t = static_cast<int64_t>(s + 0.5);
  std::ostringstream out;
  if (t >= 3600) out << t / 3600 << "h";
  if (t >= 60) out << std::setw(t >= 3600 ? 2 : 1) << std::setfill('0') << (t / 60) % 60 << "m";
  out << std::setw(t >= 60 ? 2 : 1) << std::setfill('0') << t % 60 << "s";
  return out.str();
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

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

// ---- inputs: checked alike on every rank before anything is allocated ---------------------------

struct Inputs {
  std::optional<data::Dataset> dataset;
  std::optional<text::BpeTokenizer> tokenizer;
  std::string tokenizer_path;
  model::ModelConfig student_config;
  std::string student_config_text;
  std::vector<std::string> teachers;  // selected teacher names, in order (source index)
  std::vector<int64_t> train;         // train split indices (the first --train-limit)
  std::vector<int64_t> val;           // --val-every: the val questions scored
  bool use_teachers = false;          // teacher responses take part (D input, policy gradient)
  bool use_disc = false;              // D scores enter the reward (or are the stage's product)
  bool train_disc = false;
  bool train_student = false;
  int64_t image_token_id = -1;
};

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

Inputs check_inputs(const TrainConfig& t) {
  Inputs in;
  const bool ril = t.stage == "ril";
  in.use_teachers = !ril || !t.no_discriminator;
  in.use_disc = in.use_teachers;
  in.train_disc = !ril || !t.frozen_discriminator;
  in.train_disc = in.train_disc && in.use_disc;
  in.train_student = ril;

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
    const model::LlavaConfig& llava = in.student_config.llava;
    in.image_token_id = llava.image_token_index;
    const int64_t size = llava.vision_config.image_size;
    RIL_CONFIG_CHECK(in.dataset->image_height() == size && in.dataset->image_width() == size, "ril train: ",
                     t.dataset, " has ", in.dataset->image_height(), "x", in.dataset->image_width(),
                     " images; the student's vision tower takes ", size, "x", size);
  }

  if (in.use_teachers) {
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
  if (t.stage == "ril" && in.use_disc && !t.discriminator.empty()) {
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
  }
  return in;
}

// ---- models ------------------------------------------------------------------------------------

std::set<int64_t> fault_nan_steps() {
  std::set<int64_t> out;
  if (const char* env = std::getenv("RIL_FAULT_NAN_STEPS")) {
    std::stringstream in(env);
    std::string item;
    while (std::getline(in, item, ',')) {
      if (!item.empty()) out.insert(std::stoll(item));
    }
  }
  return out;
}

// ---- metrics -----------------------------------------------------------------------------------

const std::vector<std::string>& metric_columns() {
  static const std::vector<std::string> columns = {
      "reward_student", "reward_teacher", "reward_disc_student", "reward_disc_teacher", "answer_acc_student",
      "answer_acc_teacher", "disc_loss", "disc_acc", "disc_acc_student", "disc_acc_teacher", "disc_prob_student",
      "disc_prob_teacher", "kl", "policy_loss", "pg_term", "entropy", "response_len_student", "response_len_teacher",
      "tokens_per_s", "time_teacher", "time_rollout", "time_disc", "time_learner", "time_step", "lr", "bad_steps",
      "kl_student", "kl_teacher", "limit_hit_student", "limit_hit_teacher", "val_acc"};
  return columns;
}

// D's figures for one step, sent with the scores: loss, accuracy (all / student / teacher) and
// mean probabilities, measured on the forward pass of the update (before it).
constexpr int kDiscStats = 6;

// ---- the job -----------------------------------------------------------------------------------

class TrainJob {
 public:
  TrainJob(const dist::RankGroups& groups, const Config& config, Inputs in)
      : g_(groups), c_(config), t_(config.train), in_(std::move(in)), store_(config.common.run_dir,
                                                                              io::CheckpointStoreOptions{static_cast<int>(t_.keep_checkpoints)}) {}
  void run();

 private:
  // setup
  void load_models();
  void load_teacher_responses();
  int64_t resume();
  // one step
  std::vector<Response> rollout(int64_t step, const std::vector<int64_t>& qids);
  std::vector<Response> teacher_pick(int64_t step, const std::vector<int64_t>& qids);
  void fit_to_budget(Response& r) const;
  std::vector<int64_t> response_text_ids(const std::string& text) const;
  void validation_accuracy(int64_t step);
  void warn_on_collapse(int64_t step);
  std::vector<double> discriminator_step(int64_t step, const std::vector<int64_t>& qids,
                                         std::vector<Response> students, std::vector<Response> teachers);
  void learner_step(int64_t step, const std::vector<int64_t>& qids, std::vector<Response> students,
                    std::vector<Response> teachers, std::vector<double> scores);
  // state
  void save_checkpoint(int64_t step);
  void fill_rank_state(io::H5File& file);
  void load_rank_state(const io::H5File& file);
  void finish(int64_t step);
  bool is(Role r) const { return g_.has(r); }

  const dist::RankGroups& g_;
  const Config& c_;
  const TrainConfig& t_;
  Inputs in_;
  io::CheckpointStore store_;
  std::unique_ptr<SftBatchBuilder> builder_;
  std::unique_ptr<DiscriminatorPrompt> disc_prompt_;
  data::AnswerChecker checker_;
  model::GenerationOptions gen_;

  std::optional<PolicyModel> student_, reference_;
  std::unique_ptr<torch::optim::AdamW> student_opt_;
  std::vector<torch::Tensor> student_params_;
  model::Qwen2Discriminator disc_{nullptr};
  std::unique_ptr<torch::optim::AdamW> disc_opt_;
  std::vector<torch::Tensor> disc_params_;
  std::unique_ptr<dist::WeightSync> weight_sync_;
  std::unique_ptr<GreedyAnswerer> val_answerer_;
  std::vector<std::map<int64_t, std::vector<std::string>>> teacher_rows_;  // [teacher][question]
  at::Generator cpu_rng_ = at::detail::getDefaultCPUGenerator();
  std::set<int64_t> nan_steps_ = fault_nan_steps();

  // per-step results on the learner root (for the metrics row)
  std::map<std::string, double> row_;
  double time_[4] = {0, 0, 0, 0};  // teacher, rollout, disc, learner seconds this step (this rank)
  int64_t bad_steps_ = 0, bad_disc_steps_ = 0;
  double learner_tokens_ = 0;
};

void TrainJob::load_models() {
  const bool needs_student = is(Role::kRollout) || is(Role::kDiscriminator) || is(Role::kLearner);
  if (needs_student) {
    student_.emplace();
    student_->m = model::load_pretrained(t_.student);
    student_params_.clear();
    for (auto& [name, p] : named_parameters(student_->module())) student_params_.push_back(p);
  }
  if (is(Role::kLearner) && in_.train_student) {
    reference_.emplace();
    reference_->m = model::load_pretrained(t_.student);
    reference_->module().eval();
    for (auto& p : reference_->module().parameters()) p.set_requires_grad(false);
    student_opt_ = std::make_unique<torch::optim::AdamW>(
        student_params_, torch::optim::AdamWOptions(t_.lr).weight_decay(t_.weight_decay));
  }
  if (is(Role::kDiscriminator) && in_.use_disc) {
    if (t_.stage == "ril" && !t_.discriminator.empty()) {
      disc_ = model::load_discriminator(t_.discriminator);
    } else {
      disc_ = model::Qwen2Discriminator(student_->m.config.text());
      disc_->init_from_student(student_->m.language_model(), splitmix64(c_.common.seed ^ kDiscInitStream));
    }
    for (auto& p : disc_->parameters()) disc_params_.push_back(p);
    const double lr = t_.stage == "disc" ? t_.pretrain_lr : t_.disc_lr;
    disc_opt_ = std::make_unique<torch::optim::AdamW>(disc_params_,
                                                      torch::optim::AdamWOptions(lr).weight_decay(t_.weight_decay));
    disc_prompt_ = std::make_unique<DiscriminatorPrompt>(*in_.tokenizer, t_.max_new_tokens);
  }
  if (in_.train_student && g_.channel(Channel::kWeights) != nullptr) {
    dist::Communicator& ch = *g_.channel(Channel::kWeights);
    weight_sync_ = std::make_unique<dist::WeightSync>(ch, g_.channel_root(Channel::kWeights, Role::kLearner),
                                                      named_parameters(student_->module()));
  }
}

void TrainJob::load_teacher_responses() {
  if (!is(Role::kTeacher) || !in_.use_teachers) return;
  const io::TeacherCache cache = io::TeacherCache::open(t_.teacher_cache);
  for (const std::string& name : in_.teachers) {
    std::map<int64_t, std::vector<std::string>> by_question;
    for (io::TeacherRow& row : cache.rows(name)) by_question[row.question_id].push_back(std::move(row.response));
    teacher_rows_.push_back(std::move(by_question));
  }
}

// Returns the step to start from. Every rank opens the chosen checkpoint itself (shared file
// system), so a mismatch is found alike everywhere and reported as a ConfigError.
int64_t TrainJob::resume() {
  dist::Communicator& world = *g_.channel(Channel::kWorld);
  const int root = g_.channel_root(Channel::kWorld, Role::kLearner);
  torch::Tensor found = torch::full({1}, -1, torch::kInt64);
  std::string error;
  if (world.rank() == root) {
    try {
      if (t_.resume == "auto") {
        if (auto info = store_.find_latest()) found.fill_(info->step);
      } else if (t_.resume == "no") {
        if (!store_.list_complete().empty()) {
          error = cat("--resume no, but ", store_.directory(),
                      " already holds checkpoints; resume (--resume auto) or choose another --run-dir");
        }
      } else {
        const std::string name = fs::path(t_.resume).filename().string();
        int64_t step = -1;
        if (name.size() == 14 && name.rfind("step-", 0) == 0) step = std::atoll(name.substr(5, 6).c_str());
        const io::CheckpointStore there(fs::path(t_.resume).parent_path().parent_path().string());
        const std::string why = step < 0 ? "not a checkpoint name (step-NNNNNN.h5)" : there.check(step);
        if (!why.empty()) error = cat("--resume ", t_.resume, ": ", why);
        found.fill_(step);
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  // The verdict (and its text) reaches every rank, so that all of them fail alike.
  torch::Tensor length = torch::full({1}, static_cast<int64_t>(error.size()), torch::kInt64);
  world.broadcast(length, root);
  if (length.item<int64_t>() != 0) {
    torch::Tensor text = torch::zeros({length.item<int64_t>()}, torch::kUInt8);
    if (world.rank() == root) std::memcpy(text.data_ptr<uint8_t>(), error.data(), error.size());
    world.broadcast(text, root);
    throw ConfigError(cat("ril train: cannot resume: ",
                          std::string(reinterpret_cast<const char*>(text.data_ptr<uint8_t>()), static_cast<size_t>(text.numel()))));
  }
  world.broadcast(found, root);
  const int64_t step = found.item<int64_t>();
  if (step < 0) return 0;
  const std::string main_path =
      t_.resume == "auto" ? store_.main_path(step) : t_.resume;
  const io::H5File file = io::H5File::open(main_path, io::kCheckpointKind);
  const std::string saved_config = file.attr_string("/", "student_config");
  RIL_CONFIG_CHECK(saved_config == in_.student_config_text, "ril train: checkpoint ", main_path,
                   " was written for another student model config than --student ", t_.student,
                   "; use the same --student or another --run-dir");
  RIL_CONFIG_CHECK(file.attr_string("/", "stage") == t_.stage, "ril train: checkpoint ", main_path, " is from --stage ",
                   file.attr_string("/", "stage"), ", this run is --stage ", t_.stage, "; use another --run-dir");
  const int64_t world_size = io::read_int64(file, "world_size");
  RIL_CONFIG_CHECK(world_size == g_.world_size(), "ril train: checkpoint ", main_path, " was written by ", world_size,
                   " ranks, this job has ", g_.world_size(), "; resume with the same number of ranks and --layout");
  if (is(Role::kLearner) && in_.train_student) {
    torch::NoGradGuard no_grad;
    io::load_tensors_into(file, "student", named_parameters(student_->module()));
    io::load_adamw(file, "optimizer", *student_opt_, named_parameters(student_->module()));
  }
  if (g_.world_size() == 1) {
    load_rank_state(file);
  } else {
    const std::string dir = fs::path(main_path).parent_path().string();
    char name[64];
    std::snprintf(name, sizeof(name), "step-%06lld.rank-%04d.h5", static_cast<long long>(step), g_.world_rank());
    load_rank_state(io::H5File::open(dir + "/" + name, io::kCheckpointRankKind));
    if (is(Role::kDiscriminator) && disc_ && g_.world_rank() != g_.role_map().root(Role::kDiscriminator)) {
      std::snprintf(name, sizeof(name), "step-%06lld.rank-%04d.h5", static_cast<long long>(step),
                    g_.role_map().root(Role::kDiscriminator));
      const io::H5File droot = io::H5File::open(dir + "/" + name, io::kCheckpointRankKind);
      torch::NoGradGuard no_grad;
      io::load_tensors_into(droot, "discriminator", named_parameters(*disc_));
      io::load_adamw(droot, "disc_optimizer", *disc_opt_, named_parameters(*disc_));
    }
  }
  if (g_.is_metrics_rank()) log_info("train", "resumed from ", main_path, " at step ", step);
  return step;
}

void TrainJob::fill_rank_state(io::H5File& file) {
  io::save_generator(file, "rng_cpu", cpu_rng_);
  if (disc_ && g_.world_rank() == g_.role_map().root(Role::kDiscriminator)) {
    io::save_tensors(file, "discriminator", named_parameters(*disc_));
    io::save_adamw(file, "disc_optimizer", *disc_opt_, named_parameters(*disc_));
  }
}

void TrainJob::load_rank_state(const io::H5File& file) {
  io::load_generator(file, "rng_cpu", cpu_rng_);
  if (disc_ && g_.world_rank() == g_.role_map().root(Role::kDiscriminator)) {
    torch::NoGradGuard no_grad;
    io::load_tensors_into(file, "discriminator", named_parameters(*disc_));
    io::load_adamw(file, "disc_optimizer", *disc_opt_, named_parameters(*disc_));
  }
}

void TrainJob::save_checkpoint(int64_t step) {
  dist::Communicator& world = *g_.channel(Channel::kWorld);
  const int world_size = g_.world_size();
  if (world_size > 1) store_.write_rank(step, g_.world_rank(), world_size, [&](io::H5File& f) { fill_rank_state(f); });
  world.barrier();
  if (g_.is_metrics_rank()) {
    const std::string path = store_.write(
        step,
        [&](io::H5File& file) {
          io::save_tensors(file, "student", named_parameters(student_->module()));
          if (student_opt_) io::save_adamw(file, "optimizer", *student_opt_, named_parameters(student_->module()));
          io::write_int64(file, "step", step);
          io::write_int64(file, "world_size", world_size);
          io::write_string(file, "config", c_.resolved_text());
          file.set_attr("/", "student_config", in_.student_config_text);
          file.set_attr("/", "student_tokenizer", fs::absolute(in_.tokenizer_path).string());
          file.set_attr("/", "stage", t_.stage);
          if (world_size == 1) fill_rank_state(file);
        },
        world_size);
    log_info("train", "checkpoint ", path);
  }
  world.barrier();
}

std::vector<Response> TrainJob::rollout(int64_t step, const std::vector<int64_t>& qids) {
  std::vector<Response> out;
  dist::Communicator& group = *g_.group(Role::kRollout);
  torch::NoGradGuard no_grad;
  student_->module().eval();
  for (size_t j = 0; j < qids.size(); ++j) {
    if (static_cast<int>(j % static_cast<size_t>(group.size())) != group.rank()) continue;
    const int64_t q = qids[j];
    const std::vector<int64_t> rows(static_cast<size_t>(t_.group), q);
    const SftBatch b = builder_->build_with_responses(*in_.dataset, rows, std::vector<std::vector<int64_t>>(rows.size()));
    model::GenerationInput input;
    if (student_->llava()) {
      input = model::llava_generation_input(student_->m.llava, b.prompt_ids, b.prompt_mask, b.pixel_values);
    } else {
      input.input_ids = b.prompt_ids;
      input.attention_mask = b.prompt_mask;
    }
    const model::GenerationResult r =
        model::generate(student_->m.language_model(), input, gen_,
                        model::make_cpu_generator(step_question_seed(c_.common.seed, step, q, kRolloutStream)));
    for (int64_t i = 0; i < t_.group; ++i) {
      Response resp;
      resp.question = q;
      resp.sample = static_cast<int32_t>(i);
      const int64_t n = r.lengths[i].item<int64_t>();
      std::vector<int32_t> text_ids;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t id = r.tokens[i][k].item<int64_t>();
        resp.ids.push_back(id);
        const bool stop = std::find(gen_.stop_token_ids.begin(), gen_.stop_token_ids.end(), id) != gen_.stop_token_ids.end();
        if (stop) {
          resp.finished = true;
        } else if (id < in_.tokenizer->vocab_size()) {
          text_ids.push_back(static_cast<int32_t>(id));
        }
      }
      resp.text = in_.tokenizer->decode(text_ids, /*skip_special=*/true);
      out.push_back(std::move(resp));
    }
  }
  return out;
}

std::vector<Response> TrainJob::teacher_pick(int64_t step, const std::vector<int64_t>& qids) {
  std::vector<Response> out;
  dist::Communicator& group = *g_.group(Role::kTeacher);
  const int64_t k = static_cast<int64_t>(in_.teachers.size());
  for (size_t j = 0; j < qids.size(); ++j) {
    if (static_cast<int>(j % static_cast<size_t>(group.size())) != group.rank()) continue;
    const int64_t q = qids[j];
    for (int64_t t = 0; t < k; ++t) {
      const std::vector<std::string>& pool = teacher_rows_[static_cast<size_t>(t)].at(q);
      std::vector<size_t> order(pool.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::mt19937_64 rng(step_question_seed(c_.common.seed, step, q, kTeacherStream + 16 * static_cast<uint64_t>(t)));
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
      int64_t used = 0;
      for (int64_t s = t; s < t_.group; s += k) {
        Response resp;
        resp.question = q;
        resp.sample = static_cast<int32_t>(s);
        resp.source = static_cast<int32_t>(t);
        resp.text = pool[order[static_cast<size_t>(used++) % order.size()]];
        fit_to_budget(resp);
        out.push_back(std::move(resp));
      }
    }
  }
  return out;
}

// One budget for every consumer of a teacher response (D, policy gradient, answer reward): a
// cached response longer than a sampled one may be (--max-new-tokens tokens of the student's
// tokenizer, the stop token included) is cut there, and only the cut text travels on, so D, the
// learner and the answer check all judge the same text. A cut response is not `finished`.
void TrainJob::fit_to_budget(Response& r) const {
  const std::vector<int64_t> ids = response_text_ids(r.text);
  r.finished = static_cast<int64_t>(ids.size()) + 1 <= t_.max_new_tokens;
  if (r.finished) return;
  std::vector<int32_t> cut(ids.begin(), ids.begin() + t_.max_new_tokens);
  r.text = in_.tokenizer->decode(cut, /*skip_special=*/true);
}

// Response text -> token ids as the learner feeds them (no control tokens, no stop token).
std::vector<int64_t> TrainJob::response_text_ids(const std::string& text) const {
  text::EncodeOptions plain;
  plain.allow_special = false;
  plain.invalid_utf8 = text::InvalidUtf8::kReplace;
  const std::vector<int32_t> ids = in_.tokenizer->encode(text, plain);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

// Discriminator group: one BCE update (unless frozen), then scores with the updated D. Returns,
// on the discriminator root, [kDiscStats stats..., one score per response in canonical order].
std::vector<double> TrainJob::discriminator_step(int64_t step, const std::vector<int64_t>& qids,
                                                 std::vector<Response> students, std::vector<Response> teachers) {
  dist::Communicator& group = *g_.group(Role::kDiscriminator);
  broadcast_responses(group, 0, students);
  broadcast_responses(group, 0, teachers);
  std::vector<Response> all = std::move(students);
  all.insert(all.end(), teachers.begin(), teachers.end());
  sort_responses(all);
  // This rank's share: the responses of questions j with j mod D == rank.
  std::map<int64_t, size_t> position;
  for (size_t j = 0; j < qids.size(); ++j) position.emplace(qids[j], j);
  std::vector<size_t> mine;
  for (size_t i = 0; i < all.size(); ++i) {
    if (static_cast<int>(position.at(all[i].question) % static_cast<size_t>(group.size())) == group.rank()) mine.push_back(i);
  }
  const double global_n = static_cast<double>(all.size());
  std::vector<std::string> texts;
  std::vector<float> labels;
  for (size_t i : mine) {
    texts.push_back(all[i].text);
    labels.push_back(all[i].is_student() ? 1.0F : 0.0F);
  }
  // stats: loss sum, correct, student correct, student n, teacher correct, teacher n, p student sum, p teacher sum
  std::vector<double> sums(8, 0.0);
  torch::Tensor ids, mask;
  if (!mine.empty()) std::tie(ids, mask) = disc_prompt_->batch(texts);
  const torch::Tensor label = torch::tensor(labels, torch::kFloat32);
  if (in_.train_disc) {
    disc_->train();
    if (t_.stage == "disc") {
      algo::LrScheduleOptions lo;
      lo.kind = algo::LrScheduleKind::kLinear;
      lo.start_lr = t_.pretrain_lr;
      lo.end_lr = t_.pretrain_lr_end;
      lo.total_steps = t_.steps;
      algo::set_learning_rate(*disc_opt_, algo::LrSchedule(lo).lr(step));
    }
    disc_opt_->zero_grad();
    if (!mine.empty()) {
      const torch::Tensor logits = disc_->forward(ids, mask);
      const torch::Tensor bce = torch::binary_cross_entropy_with_logits(logits, label, {}, {}, at::Reduction::Sum);
      (bce / global_n).backward();
      const torch::Tensor p = torch::sigmoid(logits.detach());
      const torch::Tensor pred = p.ge(0.5).to(torch::kFloat32);
      const torch::Tensor correct = pred.eq(label).to(torch::kFloat32);
      sums = {bce.item<double>(),
              correct.sum().item<double>(),
              (correct * label).sum().item<double>(),
              label.sum().item<double>(),
              (correct * (1 - label)).sum().item<double>(),
              (1 - label).sum().item<double>(),
              (p * label).sum().item<double>(),
              (p * (1 - label)).sum().item<double>()};
    }
    sums = allreduce_gradients(group, disc_params_, sums, dist::ReduceOp::kSum);
    if (std::isfinite(sums[0]) && gradients_finite(disc_params_)) {
      if (t_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(disc_params_, t_.max_grad_norm);
      disc_opt_->step();
    } else {
      ++bad_disc_steps_;
      disc_opt_->zero_grad();
      if (group.rank() == 0) log_warn("train", "step ", step + 1, ": non-finite discriminator loss, update skipped");
    }
  }
  // Scores with the (updated) discriminator.
  torch::Tensor scores = torch::empty({static_cast<int64_t>(mine.size())}, torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    disc_->eval();
    if (!mine.empty()) {
      const torch::Tensor p = disc_->probability(ids, mask).to(torch::kFloat64);
      scores.copy_(p);
      if (!in_.train_disc) {  // frozen: the stats come from this forward
        const torch::Tensor pf = p.to(torch::kFloat32);
        const torch::Tensor correct = pf.ge(0.5).to(torch::kFloat32).eq(label).to(torch::kFloat32);
        sums = {torch::binary_cross_entropy(pf.clamp(1e-7, 1 - 1e-7), label, {}, at::Reduction::Sum).item<double>(),
                correct.sum().item<double>(), (correct * label).sum().item<double>(), label.sum().item<double>(),
                (correct * (1 - label)).sum().item<double>(), (1 - label).sum().item<double>(),
                (pf * label).sum().item<double>(), (pf * (1 - label)).sum().item<double>()};
      }
    }
  }
  if (!in_.train_disc && group.size() > 1) {
    torch::Tensor s = torch::tensor(sums, torch::kFloat64);
    group.allreduce(s, dist::ReduceOp::kSum);
    for (size_t i = 0; i < sums.size(); ++i) sums[i] = s[static_cast<int64_t>(i)].item<double>();
  }
  // Gather (position, score) pairs to the root and put them in canonical order.
  torch::Tensor pairs = torch::empty({static_cast<int64_t>(mine.size()), 2}, torch::kFloat64);
  for (size_t k = 0; k < mine.size(); ++k) {
    pairs[static_cast<int64_t>(k)][0] = static_cast<double>(mine[k]);
    pairs[static_cast<int64_t>(k)][1] = scores[static_cast<int64_t>(k)].item<double>();
  }
  std::vector<torch::Tensor> parts = group.gather(pairs.reshape({-1}), 0);
  if (group.rank() != 0) return {};
  std::vector<double> out(kDiscStats + all.size(), std::nan(""));
  auto ratio = [](double a, double b) { return b > 0 ? a / b : std::nan(""); };
  out[0] = sums[0] / global_n;
  out[1] = ratio(sums[1], sums[3] + sums[5]);
  out[2] = ratio(sums[2], sums[3]);
  out[3] = ratio(sums[4], sums[5]);
  out[4] = ratio(sums[6], sums[3]);
  out[5] = ratio(sums[7], sums[5]);
  for (const torch::Tensor& part : parts) {
    const torch::Tensor p = part.view({-1, 2});
    for (int64_t k = 0; k < p.size(0); ++k) {
      out[kDiscStats + static_cast<size_t>(p[k][0].item<double>())] = p[k][1].item<double>();
    }
  }
  return out;
}

void TrainJob::learner_step(int64_t step, const std::vector<int64_t>& qids, std::vector<Response> students,
                            std::vector<Response> teachers, std::vector<double> scores) {
  dist::Communicator& group = *g_.group(Role::kLearner);
  broadcast_responses(group, 0, students);
  broadcast_responses(group, 0, teachers);
  torch::Tensor score_t = torch::tensor(scores, torch::kFloat64);
  if (group.size() > 1) {
    torch::Tensor n = torch::full({1}, score_t.numel(), torch::kInt64);
    group.broadcast(n, 0);
    if (group.rank() != 0) score_t = torch::empty({n.item<int64_t>()}, torch::kFloat64);
    group.broadcast(score_t, 0);
  }
  std::vector<Response> all = std::move(students);
  all.insert(all.end(), teachers.begin(), teachers.end());
  sort_responses(all);
  const int64_t n = static_cast<int64_t>(all.size());

  // Rewards and advantages for every response (cheap; identical on every learner rank).
  std::vector<std::string> texts, truths, questions;
  std::vector<int64_t> group_index;
  std::map<int64_t, int64_t> position;
  for (size_t j = 0; j < qids.size(); ++j) position.emplace(qids[j], static_cast<int64_t>(j));
  for (const Response& r : all) {
    texts.push_back(r.text);
    truths.push_back(in_.dataset->answer(r.question));
    questions.push_back(in_.dataset->question(r.question));
    group_index.push_back(position.at(r.question));
  }
  const torch::Tensor correct = algo::answer_correctness(checker_, texts, truths, questions);
  torch::Tensor prob;
  if (in_.use_disc) prob = score_t.narrow(0, kDiscStats, n).to(torch::kFloat32);
  algo::RewardOptions ro;
  ro.use_discriminator = in_.use_disc;
  ro.use_answer = !t_.no_answer_reward;
  const algo::Rewards rewards = algo::compute_rewards(prob, correct, ro);
  const torch::Tensor advantages = algo::group_advantages(rewards.total, torch::tensor(group_index, torch::kInt64));

  // Metrics of the step (root).
  if (group.rank() == 0) {
    torch::Tensor is_student = torch::zeros({n}, torch::kBool);
    torch::Tensor lengths = torch::zeros({n}, torch::kFloat32);
    for (int64_t i = 0; i < n; ++i) {
      is_student[i] = all[static_cast<size_t>(i)].is_student();
      const Response& r = all[static_cast<size_t>(i)];
      lengths[i] = static_cast<float>(r.is_student() ? r.ids.size()
                                      : r.finished   ? builder_->response_ids(r.text).size()
                                                     : std::min<size_t>(response_text_ids(r.text).size(),
                                                                        static_cast<size_t>(t_.max_new_tokens)));
    }
    auto mean_where = [&](const torch::Tensor& v, bool student) {
      const torch::Tensor m = student ? is_student : is_student.logical_not();
      return m.any().item<bool>() ? v.to(torch::kFloat64).masked_select(m).mean().item<double>() : std::nan("");
    };
    row_["reward_student"] = mean_where(rewards.total, true);
    row_["reward_teacher"] = mean_where(rewards.total, false);
    row_["reward_disc_student"] = in_.use_disc ? mean_where(rewards.discriminator, true) : std::nan("");
    row_["reward_disc_teacher"] = in_.use_disc ? mean_where(rewards.discriminator, false) : std::nan("");
    const torch::Tensor corr = correct.to(torch::kFloat32);
    row_["answer_acc_student"] = mean_where(corr, true);
    row_["answer_acc_teacher"] = mean_where(corr, false);
    row_["response_len_student"] = mean_where(lengths, true);
    row_["response_len_teacher"] = mean_where(lengths, false);
    torch::Tensor cut = torch::zeros({n}, torch::kFloat32);
    for (int64_t i = 0; i < n; ++i) cut[i] = all[static_cast<size_t>(i)].finished ? 0.0F : 1.0F;
    row_["limit_hit_student"] = mean_where(cut, true);
    row_["limit_hit_teacher"] = in_.use_teachers ? mean_where(cut, false) : std::nan("");
    const char* disc_names[kDiscStats] = {"disc_loss", "disc_acc", "disc_acc_student", "disc_acc_teacher",
                                          "disc_prob_student", "disc_prob_teacher"};
    for (int k = 0; k < kDiscStats; ++k) {
      row_[disc_names[k]] = in_.use_disc ? score_t[k].item<double>() : std::nan("");
    }
  }
  if (!in_.train_student) return;

  // This rank's share of the policy loss: the responses of questions j with j mod L == rank.
  const Clock::time_point t0 = Clock::now();
  std::vector<int64_t> rows, rows_q;
  std::vector<std::vector<int64_t>> response_ids;
  for (int64_t i = 0; i < n; ++i) {
    const Response& r = all[static_cast<size_t>(i)];
    if (position.at(r.question) % group.size() != group.rank()) continue;
    rows.push_back(i);
    rows_q.push_back(r.question);
    std::vector<int64_t> ids = r.is_student() ? r.ids : r.finished ? builder_->response_ids(r.text)
                                                                    : response_text_ids(r.text);
    if (static_cast<int64_t>(ids.size()) > t_.max_new_tokens) ids.resize(static_cast<size_t>(t_.max_new_tokens));
    response_ids.push_back(std::move(ids));
  }
  student_->module().train();
  student_opt_->zero_grad();
  // Sums over this rank's rows, added up over the learner group: see `sum[...]` below.
  std::vector<double> local(10, 0.0);
  if (!rows.empty()) {
    const SftBatch b = builder_->build_with_responses(*in_.dataset, rows_q, response_ids);
    torch::Tensor entropy;
    const torch::Tensor logp = response_logprobs(*student_, b, &entropy);
    torch::Tensor logp_ref;
    {  // also with beta = 0: the KL is still measured and logged
      torch::NoGradGuard no_grad;
      logp_ref = response_logprobs(*reference_, b);
    }
    algo::PolicyLossInput pi;
    pi.logp = logp;
    pi.logp_old = logp.detach();
    pi.logp_ref = logp_ref;
    pi.advantages = advantages.index_select(0, torch::tensor(rows, torch::kInt64)).to(torch::kFloat32);
    pi.mask = b.response_mask;
    algo::PolicyLossOptions po;
    po.clip_eps = t_.clip_eps;
    po.kl_beta = t_.beta;
    po.normaliser = algo::dr_grpo_normaliser(t_.max_new_tokens, n);
    const algo::PolicyLossResult res = algo::policy_loss(pi, po);
    torch::Tensor loss = res.loss;
    if (nan_steps_.count(step + 1)) loss = loss * std::nan("");  // fault injection (tests)
    loss.backward();
    torch::Tensor student_rows = torch::zeros({static_cast<int64_t>(rows.size())}, torch::kBool);
    for (size_t k = 0; k < rows.size(); ++k) student_rows[static_cast<int64_t>(k)] = all[static_cast<size_t>(rows[k])].is_student();
    const torch::Tensor valid = b.response_mask.to(torch::kBool);
    const torch::Tensor smask = valid & student_rows.unsqueeze(1);
    const torch::Tensor tmask = valid & student_rows.logical_not().unsqueeze(1);
    auto masked_sum = [](const torch::Tensor& v, const torch::Tensor& m) {
      return v.to(torch::kFloat64).masked_select(m).sum().item<double>();
    };
    local = {loss.item<double>(),
             res.pg_term.item<double>(),
             masked_sum(res.token_kl, smask),   // 2: KL on student tokens
             masked_sum(entropy, smask),        // 3: token entropy on student tokens
             smask.sum().item<double>(),        // 4: student tokens
             res.num_tokens.item<double>(),     // 5: all tokens
             static_cast<double>(b.total_tokens),  // 6: prompt + response tokens (throughput)
             masked_sum(res.token_kl, tmask),   // 7: KL on teacher tokens
             tmask.sum().item<double>(),        // 8: teacher tokens
             masked_sum(res.token_kl, valid)};  // 9: KL on all tokens
  }
  const std::vector<double> sum = allreduce_gradients(group, student_params_, local, dist::ReduceOp::kSum);
  const bool finite = std::isfinite(sum[0]) && gradients_finite(student_params_);
  if (finite) {
    if (t_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(student_params_, t_.max_grad_norm);
    student_opt_->step();
  } else {
    ++bad_steps_;
    student_opt_->zero_grad();
    if (group.rank() == 0) {
      log_warn("train", "step ", step + 1, ": non-finite policy loss or gradient, update skipped (", bad_steps_,
               " so far, --max-bad-steps ", t_.max_bad_steps, ")");
    }
    if (bad_steps_ > t_.max_bad_steps) {
      throw Error(cat("ril train: ", bad_steps_, " steps with a non-finite loss (more than --max-bad-steps ",
                      t_.max_bad_steps, "); lower --lr, or check the inputs; the last checkpoint is in ",
                      store_.directory()));
    }
  }
  time_[3] += seconds_since(t0);
  learner_tokens_ = sum[6];
  if (group.rank() == 0) {
    auto ratio = [](double a, double b) { return b > 0 ? a / b : std::nan(""); };
    row_["policy_loss"] = sum[0];
    row_["pg_term"] = sum[1];
    row_["kl"] = ratio(sum[9], sum[5]);
    row_["kl_student"] = ratio(sum[2], sum[4]);
    row_["kl_teacher"] = ratio(sum[7], sum[8]);
    row_["entropy"] = ratio(sum[3], sum[4]);  // mean token entropy of the policy on student tokens
  }
}

// --val-every: greedy accuracy of the current student on the first --val-questions val questions,
// scored as `ril eval` scores them. The learner group shares the questions (eval batches of 16
// dealt round-robin) and adds up the counts; the learner root records val_acc.
void TrainJob::validation_accuracy(int64_t step) {
  if (!is(Role::kLearner) || !in_.train_student || t_.val_every <= 0) return;
  if (step % t_.val_every != 0 && step != t_.steps) return;
  dist::Communicator& group = *g_.group(Role::kLearner);
  if (!val_answerer_) {
    val_answerer_ = std::make_unique<GreedyAnswerer>(*in_.tokenizer, in_.student_config, t_.val_max_new_tokens,
                                                     "ril train --val-every");
  }
  student_->module().eval();
  double counts[2] = {0, 0};  // correct, answered
  for (const std::vector<int64_t>& batch : eval_batches_for_rank(in_.val, 16, group.rank(), group.size())) {
    for (const EvalAnswer& a : val_answerer_->answer(student_->m, *in_.dataset, batch, g_.device())) {
      counts[0] += checker_.check(a.response, in_.dataset->answer(a.index), in_.dataset->question(a.index)).correct;
      counts[1] += 1;
    }
  }
  torch::Tensor total = torch::tensor({counts[0], counts[1]}, torch::kFloat64);
  if (group.size() > 1) group.allreduce(total, dist::ReduceOp::kSum);
  if (group.rank() == 0) row_["val_acc"] = total[0].item<double>() / std::max(1.0, total[1].item<double>());
}

void TrainJob::run() {
  const bool ril = t_.stage == "ril";
  load_models();
  load_teacher_responses();
  const SftSampler sampler(in_.train, c_.common.seed, t_.questions, 1);
  if (student_) {
    SftBatchOptions bo;
    bo.with_image = student_->llava();
    bo.image_token_id = in_.image_token_id;
    bo.image_tokens = student_->llava() ? student_->m.config.llava.num_image_tokens() : 0;
    bo.max_response_tokens = t_.max_new_tokens + 1;
    builder_ = std::make_unique<SftBatchBuilder>(*in_.tokenizer, bo);
  }
  gen_.max_new_tokens = t_.max_new_tokens;
  gen_.sampling.do_sample = true;
  gen_.sampling.temperature = t_.temperature;
  gen_.sampling.top_p = t_.top_p;
  gen_.sampling.top_k = t_.top_k;
  gen_.sampling.repetition_penalty = t_.repetition_penalty;
  gen_.sampling.validate();
  const auto& special = in_.tokenizer->special_ids();
  if (special.im_end) gen_.stop_token_ids.push_back(*special.im_end);
  if (special.eos && special.eos != special.im_end) gen_.stop_token_ids.push_back(*special.eos);
  gen_.pad_token_id = special.pad ? *special.pad : 0;

  int64_t step = resume();
  if (weight_sync_) weight_sync_->sync(step + 1);  // rollout and D ranks start from the learner's weights

  const bool metrics = g_.is_metrics_rank();
  std::optional<io::MetricsTable> table;
  if (metrics) {
    table.emplace(io::MetricsTable::open(c_.common.run_dir, metric_columns(), step));
    log_info("train", "stage ", t_.stage, ": student ", t_.student, " (", model::model_kind_name(in_.student_config.kind),
             "), ", in_.train.size(), " train questions, ", t_.questions, " per step, G = ", t_.group,
             in_.use_teachers ? cat(", teachers ", joined(in_.teachers)) : std::string(", no teachers"),
             in_.use_disc ? (in_.train_disc ? ", discriminator updated" : ", discriminator frozen") : ", no discriminator",
             t_.no_answer_reward ? ", no answer reward" : "", "; steps ", step, " -> ", t_.steps);
  }
  dist::Communicator& world = *g_.channel(Channel::kWorld);
  const Clock::time_point start = Clock::now();
  const int64_t first_step = step;
  bool checkpointed_last = step > 0;
  while (step < t_.steps) {
    const Clock::time_point step_start = Clock::now();
    std::fill(std::begin(time_), std::end(time_), 0.0);
    row_.clear();
    const std::vector<int64_t> qids = sampler.global_batch(step);

    std::vector<Response> mine_students, mine_teachers;
    if (is(Role::kTeacher) && in_.use_teachers) {
      const Clock::time_point t0 = Clock::now();
      mine_teachers = teacher_pick(step, qids);
      time_[0] += seconds_since(t0);
    }
    if (is(Role::kRollout)) {
      const Clock::time_point t0 = Clock::now();
      mine_students = rollout(step, qids);
      time_[1] += seconds_since(t0);
    }
    std::vector<Response> d_students, d_teachers, l_students, l_teachers;
    if (dist::Communicator* ch = g_.channel(Channel::kRollouts)) {
      if (in_.use_disc) d_students = gather_responses(*ch, g_.channel_root(Channel::kRollouts, Role::kDiscriminator), mine_students);
      l_students = gather_responses(*ch, g_.channel_root(Channel::kRollouts, Role::kLearner), mine_students);
    }
    if (in_.use_teachers) {
      if (dist::Communicator* ch = g_.channel(Channel::kTeacherResponses)) {
        d_teachers = gather_responses(*ch, g_.channel_root(Channel::kTeacherResponses, Role::kDiscriminator), mine_teachers);
        l_teachers = gather_responses(*ch, g_.channel_root(Channel::kTeacherResponses, Role::kLearner), mine_teachers);
      }
    }
    std::vector<double> scores;
    if (in_.use_disc && is(Role::kDiscriminator)) {
      const Clock::time_point t0 = Clock::now();
      scores = discriminator_step(step, qids, std::move(d_students), std::move(d_teachers));
      time_[2] += seconds_since(t0);
    }
    if (in_.use_disc) {
      if (dist::Communicator* ch = g_.channel(Channel::kScores)) {
        const int d = g_.channel_root(Channel::kScores, Role::kDiscriminator);
        const int l = g_.channel_root(Channel::kScores, Role::kLearner);
        if (ch->rank() == d) ch->send(torch::tensor(scores, torch::kFloat64), l, /*tag=*/7);
        if (ch->rank() == l) {
          const torch::Tensor got = ch->recv(d, /*tag=*/7);
          scores.assign(got.data_ptr<double>(), got.data_ptr<double>() + got.numel());
        }
      }
    }
    if (is(Role::kLearner)) {
      if (!in_.use_disc) scores.clear();
      learner_step(step, qids, std::move(l_students), std::move(l_teachers), std::move(scores));
    }
    if (weight_sync_) weight_sync_->sync(step + 2);
    ++step;
    validation_accuracy(step);

    // One world allreduce: the slowest rank's time per group, and any stop signal.
    torch::Tensor shared = torch::tensor({time_[0], time_[1], time_[2], time_[3],
                                          static_cast<double>(stop_signal_number()), learner_tokens_}, torch::kFloat64);
    world.allreduce(shared, dist::ReduceOp::kMax);
    const double step_time = seconds_since(step_start);
    if (metrics) {
      row_["time_teacher"] = shared[0].item<double>();
      row_["time_rollout"] = shared[1].item<double>();
      row_["time_disc"] = shared[2].item<double>();
      row_["time_learner"] = shared[3].item<double>();
      row_["time_step"] = step_time;
      row_["tokens_per_s"] = shared[5].item<double>() / std::max(step_time, 1e-9);
      row_["lr"] = ril ? t_.lr : algo::LrSchedule({algo::LrScheduleKind::kLinear, t_.pretrain_lr, t_.pretrain_lr_end, t_.steps}).lr(step - 1);
      row_["bad_steps"] = static_cast<double>(bad_steps_ + bad_disc_steps_);
      std::vector<double> values;
      for (const std::string& name : metric_columns()) {
        auto it = row_.find(name);
        values.push_back(it == row_.end() ? std::nan("") : it->second);
      }
      table->append(step, values);
      if (step % t_.log_every == 0 || step == t_.steps || step == first_step + 1) {
        const double eta = seconds_since(start) / static_cast<double>(step - first_step) * static_cast<double>(t_.steps - step);
        std::ostringstream line;
        line << std::fixed << std::setprecision(2) << "step " << step << "/" << t_.steps << " reward S "
             << row_["reward_student"];
        if (in_.use_teachers) line << " T " << row_["reward_teacher"];
        line << " | answer S " << row_["answer_acc_student"];
        if (in_.use_disc) line << " | D acc " << row_["disc_acc"] << " loss " << std::setprecision(3) << row_["disc_loss"];
        if (ril) line << std::setprecision(4) << " | kl " << row_["kl"] << " loss " << row_["policy_loss"];
        if (ril) line << std::setprecision(2) << " H " << row_["entropy"];
        line << std::setprecision(1) << " | len S " << row_["response_len_student"];
        if (in_.use_teachers) line << " T " << row_["response_len_teacher"];
        line << std::setprecision(2) << " cut S " << row_["limit_hit_student"];
        if (row_.count("val_acc")) line << " | val " << std::setprecision(3) << row_["val_acc"];
        line << std::setprecision(0) << " | " << row_["tokens_per_s"] << " tok/s | s/group tea " << std::setprecision(1)
             << row_["time_teacher"] << " roll " << row_["time_rollout"] << " disc " << row_["time_disc"] << " learn "
             << row_["time_learner"] << " | eta " << duration_text(eta);
        log_info("train", line.str());
      }
      warn_on_collapse(step);
    }
    checkpointed_last = false;
    if (t_.checkpoint_every > 0 && step % t_.checkpoint_every == 0 && step < t_.steps) {
      save_checkpoint(step);
      checkpointed_last = true;
    }
    const int64_t stop_signal = static_cast<int64_t>(shared[4].item<double>());
    if (stop_signal != 0 && step < t_.steps) {
      if (!checkpointed_last) save_checkpoint(step);
      if (metrics) {
        log_info("train", "stopped by signal ", stop_signal, " at step ", step, "; checkpoint written: ",
                 store_.main_path(step), "; resume with the same command");
      }
      return;
    }
  }
  if (!checkpointed_last) save_checkpoint(step);
  finish(step);
}

// Collapse is visible, not silent: a warning on every step where the KL to the reference on the
// student's own tokens passes --warn-kl, or where more than --warn-limit-share of the sampled
// responses run to --max-new-tokens without a stop token (the usual signs of a policy that
// drifted into repetition). Metrics rank only.
void TrainJob::warn_on_collapse(int64_t step) {
  if (t_.stage != "ril") return;
  const double kl = row_["kl_student"], cut = row_["limit_hit_student"];
  if (kl > t_.warn_kl) {
    log_warn("train", "step ", step, ": KL to the reference on student tokens is ", kl, " (> --warn-kl ", t_.warn_kl,
             "): the student is drifting; lower --lr or raise --beta if it keeps growing");
  }
  if (cut > t_.warn_limit_share) {
    log_warn("train", "step ", step, ": ", std::lround(100 * cut), "% of student responses hit --max-new-tokens ",
             t_.max_new_tokens, " without a stop token (> --warn-limit-share ", t_.warn_limit_share,
             "): a sign of collapse into repetition");
  }
}

// Final models: the student (ril stage) from the learner root, the discriminator from its root.
void TrainJob::finish(int64_t step) {
  const std::string run_dir = c_.common.run_dir;
  if (t_.stage == "ril" && g_.is_metrics_rank()) {
    const std::string out = t_.out.empty() ? run_dir + "/model" : t_.out;
    save_policy(*student_, out);
    fs::copy_file(in_.tokenizer_path, fs::path(out) / "tokenizer.json", fs::copy_options::overwrite_existing);
    log_info("train", "student after ", step, " steps written to ", out);
  }
  if (disc_ && g_.world_rank() == g_.role_map().root(Role::kDiscriminator)) {
    const std::string out = t_.stage == "disc" && !t_.out.empty() ? t_.out : run_dir + "/discriminator";
    model::save_discriminator(disc_, out);
    fs::copy_file(in_.tokenizer_path, fs::path(out) / "tokenizer.json", fs::copy_options::overwrite_existing);
    log_info("train", "discriminator written to ", out);
  }
}

}  // namespace

uint64_t step_question_seed(uint64_t seed, int64_t step, int64_t question, uint64_t stream) {
  uint64_t h = splitmix64(seed ^ (stream * 0x9e3779b97f4a7c15ULL));
  h = splitmix64(h ^ static_cast<uint64_t>(step));
  return splitmix64(h ^ static_cast<uint64_t>(question));
}

void run_train_job(const dist::RankGroups& groups, const Config& config) {
  install_stop_signal_handlers();
  Inputs in = check_inputs(config.train);  // every rank: identical verdicts before any work
  TrainJob job(groups, config, std::move(in));
  job.run();
}

}  // namespace ril::roles
