#include "ril/jobs/sft_job.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ril/algo/schedules.h"
#include "ril/common/error.h"
#include "ril/common/fault_injection.h"
#include "ril/common/logging.h"
#include "ril/common/paths.h"
#include "ril/common/stop_signal.h"
#include "ril/common/stopwatch.h"
#include "ril/data/dataset.h"
#include "ril/dist/agreement.h"
#include "ril/dist/gradient_sync.h"
#include "ril/dist/host_messages.h"
#include "ril/dist/sharding.h"
#include "ril/io/checkpoint_schema.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_file.h"
#include "ril/io/module_state.h"
#include "ril/io/teacher_cache.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/roles/finite_parameters.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::jobs {
namespace {

using dist::Role;
using roles::PolicyModel;
using roles::SftBatch;
using roles::SftBatchBuilder;
using roles::SftBatchOptions;
using roles::SftSampler;
using roles::first_non_finite;
using roles::named_parameters;
using roles::response_logprobs;
using roles::save_policy;
namespace names = io::checkpoint_names;

// Everything the inputs say, checked alike on every rank (ConfigError before any training).
struct Inputs {
  std::optional<data::Dataset> dataset;
  // --teacher-cache: (question, response) of the selected teachers on train questions, in
  // teacher, question, sample order; the sampler then draws rows of this list.
  std::vector<std::pair<int64_t, std::string>> cached;
  std::optional<text::BpeTokenizer> tokenizer;
  model::ModelConfig model_config;
  roles::SftBatchOptions batch_options;  // the model's prompt and image layout on the dataset
};

Inputs check_inputs(const SftConfig& s, uint64_t) {
  Inputs in;
  RIL_CONFIG_CHECK(path_exists(s.dataset), "ril sft: --dataset '", s.dataset, "' does not exist");
  RIL_CONFIG_CHECK(path_exists(s.tokenizer), "ril sft: --tokenizer '", s.tokenizer, "' does not exist");
  try {
    in.dataset.emplace(data::Dataset::open(s.dataset));
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(cat("ril sft: --dataset: ", e.what()));
  }
  try {
    in.tokenizer.emplace(text::BpeTokenizer::from_tokenizer_json(s.tokenizer));
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(cat("ril sft: --tokenizer: ", e.what()));
  }
  if (!s.teacher_cache.empty()) {
    RIL_CONFIG_CHECK(std::filesystem::exists(s.teacher_cache), "ril sft: --teacher-cache '", s.teacher_cache,
                     "' does not exist");
    io::TeacherCache cache = [&] {
      try {
        return io::TeacherCache::open(s.teacher_cache);
      } catch (const ConfigError&) {
        throw;
      } catch (const Error& e) {
        throw ConfigError(cat("ril sft: --teacher-cache: ", e.what()));
      }
    }();
    RIL_CONFIG_CHECK(io::dataset_fingerprint(s.dataset).text == cache.dataset_fingerprint_text(), "ril sft: the teacher cache ",
                     s.teacher_cache, " was built for another dataset (", cache.dataset_path(), ") than --dataset ", s.dataset);
    std::vector<std::string> names;
    for (const std::string& spec : s.teachers) {
      std::stringstream list(spec);
      std::string name;
      while (std::getline(list, name, ',')) {
        if (!name.empty()) names.push_back(name);
      }
    }
    if (names.empty()) names = cache.teachers();
    const std::vector<int64_t> train = in.dataset->indices(data::Split::kTrain);
    const std::set<int64_t> train_set(train.begin(), train.end());
    for (const std::string& name : names) {
      RIL_CONFIG_CHECK(cache.has_teacher(name), "ril sft: teacher '", name, "' is not in ", s.teacher_cache, " (it has: ",
                       data::join_names(cache.teachers()), ")");
      for (io::TeacherRow& row : cache.rows(name)) {
        if (train_set.count(row.question_id)) in.cached.emplace_back(row.question_id, std::move(row.response));
      }
    }
    RIL_CONFIG_CHECK(!in.cached.empty(), "ril sft: ", s.teacher_cache, " has no responses to train questions of ", s.dataset);
  }
  const std::vector<std::string> wanted = data::split_names(s.style);
  RIL_CONFIG_CHECK(!wanted.empty(), "ril sft: --style is empty");
  for (const std::string& style : wanted) {
    RIL_CONFIG_CHECK(in.dataset->has_rationale_style(style), "ril sft: --style '", style, "' is not in ", s.dataset,
                     " (it has: ", data::join_names(in.dataset->rationale_styles()), ")");
  }
  RIL_CONFIG_CHECK(!in.dataset->indices(data::Split::kTrain).empty(), "ril sft: ", s.dataset,
                   " has no train examples");
  if (!s.init.empty()) {
    RIL_CONFIG_CHECK(path_exists(s.init), "ril sft: --init '", s.init, "' does not exist");
    in.model_config = model::load_model_config(s.init);
  } else {
    in.model_config = model::model_preset(s.model);
  }
  const int64_t model_vocab = in.model_config.text().vocab_size;
  const int64_t tok_vocab = in.tokenizer->vocab_size();
  RIL_CONFIG_CHECK(tok_vocab <= model_vocab, "ril sft: the tokenizer's vocabulary (", tok_vocab, " tokens, ",
                   s.tokenizer, ") is larger than the model's (", model_vocab, ", ",
                   s.init.empty() ? "--model " + s.model : "--init " + s.init,
                   "); train a tokenizer with --vocab-size <= ", model_vocab, " or pick a larger model");
  if (in.model_config.has_vision()) {
    // A fresh model adopts the tokenizer's image token (roles::tokenizer_image_token).
    const std::optional<int32_t> image_token = roles::tokenizer_image_token(in.model_config, *in.tokenizer);
    if (s.init.empty() && image_token) in.model_config.set_image_token_id(*image_token);
    roles::check_image_token(in.model_config, *in.tokenizer, cat("ril sft: ", s.tokenizer));
    if (in.model_config.kind == model::ModelKind::kLlava) {
      const int64_t size = in.model_config.llava.vision_config.image_size;
      RIL_CONFIG_CHECK(in.dataset->image_height() == size && in.dataset->image_width() == size, "ril sft: ",
                       s.dataset, " has ", in.dataset->image_height(), "x", in.dataset->image_width(),
                       " images; the model's vision tower takes ", size, "x", size);
    }
  }
  try {  // a vision family takes images of this size (Qwen2.5-VL: min/max pixels; InternVL: tiles)
    in.batch_options = roles::model_batch_options(in.model_config, in.dataset->image_height(), in.dataset->image_width());
  } catch (const ConfigError& e) {
    throw ConfigError(cat("ril sft: --dataset ", s.dataset, ": ", e.what()));
  }
  return in;
}

PolicyModel make_student(const SftConfig& s, const Inputs& in, uint64_t seed) {
  PolicyModel st;
  if (!s.init.empty()) {
    st.m = model::load_pretrained(s.init);
    return st;
  }
  st.m = model::PretrainedModel::create(in.model_config, seed);
  return st;
}

}  // namespace

void run_sft_job(const dist::RankGroups& groups, const Config& config) {
  const SftConfig& s = config.sft;
  const uint64_t seed = config.common.seed;
  // Every rank, learners or not: mpirun forwards a stop signal (USR1) to all ranks, and without a
  // handler USR1 would end the ranks that only wait in main's final barrier.
  install_stop_signal_handlers();
  Inputs in = check_inputs(s, seed);  // every rank: identical verdicts
  if (!groups.has(Role::kLearner)) return;

  dist::Communicator& comm = *groups.group(Role::kLearner);       // gradients
  dist::Communicator& host = *groups.host_group(Role::kLearner);  // counts, losses, verdicts
  const int ranks = comm.size(), rank = comm.rank();
  const bool metrics = groups.is_metrics_rank();
  const data::Dataset& dataset = *in.dataset;
  const std::string out_dir = s.out.empty() ? config.common.run_dir + "/model" : s.out;

  PolicyModel st = make_student(s, in, seed);
  torch::nn::Module& module = st.module();
  st.m.language_model()->model->set_checkpoint_activations(s.checkpoint_activations);
  const bool with_image = st.m.has_vision();
  SftBatchOptions bo = in.batch_options;
  bo.max_response_tokens = s.max_response_tokens;
  bo.style = s.style;
  const SftBatchBuilder builder(*in.tokenizer, bo);
  // The sampler draws dataset examples, or rows of the cached responses (--teacher-cache).
  std::vector<int64_t> pool = dataset.indices(data::Split::kTrain);
  if (!in.cached.empty()) {
    pool.resize(in.cached.size());
    for (size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<int64_t>(i);
  }
  const SftSampler sampler(pool, seed, s.batch, ranks);
  auto train_batch = [&](const std::vector<int64_t>& picks) {
    if (in.cached.empty()) return builder.build(dataset, picks);
    std::vector<int64_t> questions;
    std::vector<std::vector<int64_t>> responses;
    for (int64_t i : picks) {
      questions.push_back(in.cached[static_cast<size_t>(i)].first);
      responses.push_back(builder.response_ids(in.cached[static_cast<size_t>(i)].second));
    }
    return builder.build_with_responses(dataset, questions, responses);
  };

  io::NamedTensors params = named_parameters(module);
  std::vector<torch::Tensor> plist;
  int64_t numel = 0;
  for (auto& [name, p] : params) {
    plist.push_back(p);
    numel += p.numel();
  }
  torch::optim::AdamW optimizer(plist, torch::optim::AdamWOptions(s.lr).weight_decay(s.weight_decay));
  algo::LrScheduleOptions lo;
  lo.kind = algo::LrScheduleKind::kLinear;
  lo.start_lr = s.lr;
  lo.end_lr = s.lr_end;
  lo.total_steps = s.steps;
  lo.warmup_steps = s.warmup_steps;
  const algo::LrSchedule schedule(lo);
  at::Generator cpu_rng = at::detail::getDefaultCPUGenerator();
  const std::set<int64_t> inf_param_steps = fault_steps("RIL_FAULT_INF_PARAM_STEPS");

  // Resume: the learner root picks the checkpoint; every learner rank loads it.
  io::CheckpointStore store(config.common.run_dir);
  int64_t step = 0;
  if (s.resume) {
    int64_t resume_step = -1;
    std::string refusal;  // a checkpoint of ril train in this run dir is not ours to continue
    if (rank == 0) {
      try {
        if (auto info = store.find_latest()) {
          resume_step = info->step;
          const std::string origin = io::checkpoint_origin(
              io::read_checkpoint_header(io::H5File::open(info->path, io::kCheckpointKind)));
          if (origin != "sft") {
            refusal = cat("the newest checkpoint in ", store.directory(), " (", info->path, ") is a checkpoint of `ril ",
                          origin.empty() ? std::string("?") : origin,
                          "`; `ril sft --resume` continues only its own. Give ril sft another --run-dir");
          }
        }
      } catch (const std::exception& e) {
        refusal = e.what();
      }
    }
    dist::agree_or_throw(host, refusal, dist::ErrorKind::kConfig, "ril sft: cannot resume: ");
    resume_step = dist::broadcast_value(host, resume_step, 0);
    if (resume_step >= 0) {
      const std::string path = store.main_path(resume_step);
      io::H5File file = io::H5File::open(path, io::kCheckpointKind);
      const io::CheckpointHeader header = io::read_checkpoint_header(file);
      {
        torch::NoGradGuard no_grad;
        io::load_tensors_into(file, io::student_tensor_group(file), params);
      }
      io::load_adamw(file, names::kOptimizer, optimizer, params);
      io::load_generator(file, names::kRankRng, cpu_rng);
      if (header.learners != ranks && metrics) {
        log_warn("sft", "checkpoint was written by ", header.learners, " learner rank(s), this run has ", ranks,
                 ": the data order continues differently than an uninterrupted run");
      }
      step = header.step;
      if (metrics) log_info("sft", "resumed from ", path, " at step ", step);
    } else if (metrics) {
      log_info("sft", "--resume: no checkpoint in ", store.directory(), ", starting at step 0");
    }
  }

  if (metrics) {
    log_info("sft", "model ", s.init.empty() ? "preset " + s.model : s.init, " (", model::model_kind_name(st.m.config.kind),
             ", ", numel, " parameters), tokenizer ", in.tokenizer->vocab_size(), " tokens, ",
             in.cached.empty() ? cat("style '", s.style, "', ", dataset.indices(data::Split::kTrain).size(), " train examples; ")
                               : cat(in.cached.size(), " cached teacher responses to train questions (", s.teacher_cache, "); "),
             ranks, " learner rank(s) x ",
             s.batch, " = ", s.batch * ranks, " examples per update",
             s.accumulate > 1 ? cat(" (", s.accumulate, " micro-batches of about ", s.batch / s.accumulate, " per rank)") : std::string(),
             "; ", s.steps, " updates, lr ", s.lr, " -> ",
             s.lr_end, with_image ? cat(", ", bo.image_tokens, " image tokens per prompt") : std::string());
  }

  auto save_checkpoint = [&](int64_t at_step) {
    if (rank == 0) {
      const std::string path = store.write(at_step, [&](io::H5File& file) {
        io::save_tensors(file, names::kStudent, params);
        io::save_adamw(file, names::kOptimizer, optimizer, params);
        io::save_generator(file, names::kRankRng, cpu_rng);
        io::CheckpointHeader header;
        header.step = at_step;
        header.world_size = groups.world_size();
        header.learners = ranks;
        header.stage = "sft";
        header.config_text = config.resolved_text();
        header.student_config = model::model_config_to_json(st.m.config).dump();
        header.student_tokenizer = std::filesystem::absolute(s.tokenizer).string();
        io::write_checkpoint_header(file, header);
      });
      log_info("sft", "checkpoint ", path);
    }
    comm.barrier();
  };

  // ---- training --------------------------------------------------------------------------------
  module.train();
  const Stopwatch start;
  Stopwatch window;
  double window_tokens = 0, window_response = 0, first_loss = -1, last_loss = -1;
  const int64_t first_step = step;
  bool checkpointed_last = step > 0;  // resumed at or past --steps: that checkpoint stands
  while (step < s.steps) {
    // --accumulate K: the rank's batch in K micro-batches (contiguous chunks of its examples),
    // built up front (token ids and images only) so that the token count of the whole update is
    // known before the first backward; then one micro-batch's activations at a time.
    const std::vector<int64_t> picks = sampler.rank_batch(step, rank);
    std::vector<SftBatch> micro;
    double local_response = 0, local_total = 0;
    for (int64_t k = 0; k < s.accumulate; ++k) {
      const auto [begin, end] = dist::even_range(static_cast<int64_t>(picks.size()), k, s.accumulate);
      micro.push_back(train_batch(std::vector<int64_t>(picks.begin() + begin, picks.begin() + end)));
      local_response += static_cast<double>(micro.back().response_tokens);
      local_total += static_cast<double>(micro.back().total_tokens);
    }
    const std::vector<double> counts =
        dist::allreduce_values(host, {local_response, local_total}, dist::ReduceOp::kSum);
    const double global_response = counts[0], global_total = counts[1];
    const double global_examples = static_cast<double>(s.batch * ranks);

    algo::set_learning_rate(optimizer, schedule.lr(step));
    optimizer.zero_grad();
    // Average over ranks of (rank's token-sum * ranks / global tokens) = the global token mean
    // (--loss-mean response: of each response's token mean, over the global examples); the
    // micro-batches' gradients add up to those of the rank's whole batch.
    double local_loss = 0;
    for (const SftBatch& batch : micro) {
      const torch::Tensor logp = response_logprobs(st, batch);  // [B, R], 0 at padding
      const torch::Tensor loss =
          s.loss_mean == "response"
              ? -(logp.sum(1) / batch.response_mask.to(logp.scalar_type()).sum(1).clamp_min(1)).sum() *
                    (static_cast<double>(ranks) / global_examples)
              : -logp.sum() * (static_cast<double>(ranks) / std::max(1.0, global_response));
      loss.backward();
      local_loss += loss.detach().item<double>();
    }
    micro.clear();

    // One bucket: every gradient, then the loss (for the log), averaged over the learner group.
    dist::allreduce_gradients(comm, plist, dist::ReduceOp::kAvg);
    const double step_loss = dist::allreduce_values(host, {local_loss}, dist::ReduceOp::kAvg).at(0);
    optimizer.step();
    if (inf_param_steps.count(step + 1)) {  // fault injection (tests)
      torch::NoGradGuard no_grad;
      plist.back().view(-1)[0].fill_(std::numeric_limits<float>::infinity());
    }
    // Learner ranks hold the same parameters; agreeing keeps them together even so.
    if (const std::string bad = first_non_finite(params); !bad.empty() || ranks > 1) {
      dist::agree_or_throw(host, bad.empty() ? bad : cat("ril sft: step ", step + 1, ": parameter ", bad,
                                                         " is not finite after the update (loss ", step_loss,
                                                         ", lr ", schedule.lr(step), "); the run stops before it ",
                                                         "reaches a checkpoint or the model directory. Lower --lr"),
                           dist::ErrorKind::kRuntime);
    }
    ++step;
    if (first_loss < 0) first_loss = step_loss;
    last_loss = step_loss;
    window_tokens += global_total;
    window_response += global_response;

    if (metrics && (step % s.log_every == 0 || step == s.steps || step == first_step + 1)) {
      const double dt = window.seconds();
      const double done = static_cast<double>(step - first_step);
      const double eta = start.seconds() / done * static_cast<double>(s.steps - step);
      log_info("sft", "step ", step, "/", s.steps, " loss ", std::fixed, std::setprecision(4), step_loss, " lr ",
               std::scientific, std::setprecision(3), schedule.lr(step - 1), std::fixed, std::setprecision(0),
               " tok/s ", window_tokens / std::max(dt, 1e-9), " (response ", window_response / std::max(dt, 1e-9),
               ") epoch ", sampler.epoch_of(step - 1), " eta ", duration_text(eta));
      window.restart();
      window_tokens = window_response = 0;
    }
    checkpointed_last = false;
    if (s.checkpoint_every > 0 && step % s.checkpoint_every == 0) {
      save_checkpoint(step);
      checkpointed_last = true;
    }

    // A stop request (SIGUSR1/SIGTERM) may reach the learners at different steps: they agree on
    // the largest signal number seen (0: none), so all of them stop after the same step. After the
    // last step the run just finishes.
    const int64_t stop_signal = static_cast<int64_t>(
        dist::allreduce_values(host, {static_cast<double>(stop_signal_number())}, dist::ReduceOp::kMax).at(0));
    if (stop_signal != 0 && step < s.steps) {
      if (!checkpointed_last) save_checkpoint(step);
      note_stopped_with_checkpoint();  // main exits with status 3: resumable
      if (metrics) {
        log_info("sft", "stopped by signal ", stop_signal, " at step ", step, "; checkpoint written: ",
                 store.main_path(step), "; resume with the same command", s.resume ? "" : " and --resume");
      }
      return;  // no validation or final model: the resumed run does those
    }
  }
  if (!checkpointed_last) save_checkpoint(step);
  if (metrics && step > first_step) {
    log_info("sft", "trained ", step - first_step, " updates in ", duration_text(start.seconds()),
             ": loss first ", std::fixed, std::setprecision(4), first_loss, " last ", last_loss);
  }

  // ---- validation: learner rank r scores val examples r, r + ranks, ... -----------------------
  std::vector<int64_t> val = dataset.indices(data::Split::kVal);
  if (static_cast<int64_t>(val.size()) > s.val_examples) val.resize(static_cast<size_t>(s.val_examples));
  if (!val.empty()) {
    module.eval();
    torch::NoGradGuard no_grad;
    double nll = 0, tokens = 0;
    const std::vector<int64_t> mine = dist::owned_share(val, rank, ranks);
    for (size_t i = 0; i < mine.size(); i += static_cast<size_t>(s.batch)) {
      const std::vector<int64_t> chunk(mine.begin() + static_cast<std::ptrdiff_t>(i),
                                       mine.begin() + static_cast<std::ptrdiff_t>(std::min(mine.size(), i + s.batch)));
      const SftBatch batch = builder.build(dataset, chunk);
      nll -= response_logprobs(st, batch).sum().item<double>();
      tokens += static_cast<double>(batch.response_tokens);
    }
    const std::vector<double> sums = dist::allreduce_values(host, {nll, tokens}, dist::ReduceOp::kSum);
    if (metrics) {
      log_info("sft", "val loss ", std::fixed, std::setprecision(4), sums[0] / std::max(1.0, sums[1]), " over ",
               val.size(), " examples, ", static_cast<int64_t>(sums[1]), " response tokens");
    }
  } else if (metrics) {
    log_info("sft", "no val examples scored (val split empty or --val-examples 0)");
  }

  // ---- the final model -----------------------------------------------------------------------
  if (rank == 0) {
    save_policy(st, out_dir);
    std::filesystem::copy_file(s.tokenizer, out_dir + "/tokenizer.json",
                               std::filesystem::copy_options::overwrite_existing);
    log_info("sft", "model written to ", out_dir, " (", model::model_kind_name(st.m.config.kind),
             ", with tokenizer.json)");
  }
  comm.barrier();
}

}  // namespace ril::jobs
