#include "ril/roles/sft_job.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <set>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <sstream>
#include <sys/stat.h>

#include "ril/algo/schedules.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/stop_signal.h"
#include "ril/data/dataset.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_file.h"
#include "ril/io/module_state.h"
#include "ril/io/teacher_cache.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/roles/gradient_sync.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {
namespace {

using dist::Role;
using Clock = std::chrono::steady_clock;

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string duration_text(double s) {
  const int64_t t = static_cast<int64_t>(s + 0.5);
  std::ostringstream out;
  if (t >= 3600) out << t / 3600 << "h";
  if (t >= 60) out << std::setw(t >= 3600 ? 2 : 1) << std::setfill('0') << (t / 60) % 60 << "m";
  out << std::setw(t >= 60 ? 2 : 1) << std::setfill('0') << t % 60 << "s";
  return out.str();
}

// Everything the inputs say, checked alike on every rank (ConfigError before any training).
struct Inputs {
  std::optional<data::Dataset> dataset;
  // --teacher-cache: (question, response) of the selected teachers on train questions, in
  // teacher, question, sample order; the sampler then draws rows of this list.
  std::vector<std::pair<int64_t, std::string>> cached;
  std::optional<text::BpeTokenizer> tokenizer;
  model::ModelConfig model_config;
  int64_t image_token_id = -1;
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
  const auto& styles = in.dataset->rationale_styles();
  RIL_CONFIG_CHECK(std::find(styles.begin(), styles.end(), s.style) != styles.end(), "ril sft: --style '", s.style,
                   "' is not in ", s.dataset, " (it has: ", data::join_names(styles), ")");
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
  if (in.model_config.kind == model::ModelKind::kLlava) {
    model::LlavaConfig& llava = in.model_config.llava;
    const std::optional<int32_t> pad = in.tokenizer->token_to_id("<|image_pad|>");
    if (s.init.empty() && pad) llava.image_token_index = *pad;  // a fresh model adopts the tokenizer's
    in.image_token_id = llava.image_token_index;
    RIL_CONFIG_CHECK(in.image_token_id >= tok_vocab || (pad && *pad == in.image_token_id), "ril sft: the model's "
                     "image token id ", in.image_token_id, " is an ordinary token of ", s.tokenizer,
                     " ('", in.tokenizer->id_to_token(static_cast<int32_t>(in.image_token_id)), "')");
    const int64_t size = llava.vision_config.image_size;
    RIL_CONFIG_CHECK(in.dataset->image_height() == size && in.dataset->image_width() == size, "ril sft: ",
                     s.dataset, " has ", in.dataset->image_height(), "x", in.dataset->image_width(),
                     " images; the model's vision tower takes ", size, "x", size);
  }
  return in;
}

PolicyModel make_student(const SftConfig& s, const Inputs& in, uint64_t seed) {
  PolicyModel st;
  if (!s.init.empty()) {
    st.m = model::load_pretrained(s.init);
    return st;
  }
  st.m.config = in.model_config;
  if (st.m.config.kind == model::ModelKind::kLlava) {
    st.m.llava = model::LlavaForConditionalGeneration(st.m.config.llava);
    st.m.llava->init_weights(seed);
  } else {
    st.m.lm = model::Qwen2ForCausalLM(st.m.config.qwen2);
    st.m.lm->init_weights(seed);
  }
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

  dist::Communicator& comm = *groups.group(Role::kLearner);
  const int ranks = comm.size(), rank = comm.rank();
  const bool metrics = groups.is_metrics_rank();
  const data::Dataset& dataset = *in.dataset;
  const std::string out_dir = s.out.empty() ? config.common.run_dir + "/model" : s.out;

  PolicyModel st = make_student(s, in, seed);
  torch::nn::Module& module = st.module();
  const bool llava = st.m.config.kind == model::ModelKind::kLlava;
  SftBatchOptions bo;
  bo.with_image = llava;
  bo.image_token_id = in.image_token_id;
  bo.image_tokens = llava ? st.m.config.llava.num_image_tokens() : 0;
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

  // Resume: the learner root picks the checkpoint; every learner rank loads it.
  io::CheckpointStore store(config.common.run_dir);
  int64_t step = 0;
  if (s.resume) {
    torch::Tensor found = torch::full({1}, -1, torch::kInt64);
    if (rank == 0) {
      if (auto info = store.find_latest()) found.fill_(info->step);
    }
    comm.broadcast(found, 0);
    const int64_t resume_step = found.item<int64_t>();
    if (resume_step >= 0) {
      const std::string path = store.main_path(resume_step);
      io::H5File file = io::H5File::open(path, io::kCheckpointKind);
      {
        torch::NoGradGuard no_grad;
        io::load_tensors_into(file, "model", params);
      }
      io::load_adamw(file, "optimizer", optimizer, params);
      io::load_generator(file, "rng_cpu", cpu_rng);
      const int64_t saved_ranks = io::read_int64(file, "learners");
      if (saved_ranks != ranks && metrics) {
        log_warn("sft", "checkpoint was written by ", saved_ranks, " learner rank(s), this run has ", ranks,
                 ": the data order continues differently than an uninterrupted run");
      }
      step = io::read_int64(file, "step");
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
             s.batch, " = ", s.batch * ranks, " examples per update; ", s.steps, " updates, lr ", s.lr, " -> ",
             s.lr_end, llava ? cat(", ", bo.image_tokens, " image tokens per prompt") : std::string());
  }

  auto save_checkpoint = [&](int64_t at_step) {
    if (rank == 0) {
      const std::string path = store.write(at_step, [&](io::H5File& file) {
        io::save_tensors(file, "model", params);
        io::save_adamw(file, "optimizer", optimizer, params);
        io::save_generator(file, "rng_cpu", cpu_rng);
        io::write_int64(file, "step", at_step);
        io::write_int64(file, "learners", ranks);
        io::write_string(file, "config", config.resolved_text());
      });
      log_info("sft", "checkpoint ", path);
    }
    comm.barrier();
  };

  // ---- training --------------------------------------------------------------------------------
  module.train();
  const Clock::time_point start = Clock::now();
  Clock::time_point window = start;
  double window_tokens = 0, window_response = 0, first_loss = -1, last_loss = -1;
  const int64_t first_step = step;
  bool checkpointed_last = step > 0;  // resumed at or past --steps: that checkpoint stands
  while (step < s.steps) {
    const SftBatch batch = train_batch(sampler.rank_batch(step, rank));
    torch::Tensor counts = torch::tensor({static_cast<double>(batch.response_tokens),
                                          static_cast<double>(batch.total_tokens)}, torch::kFloat64);
    comm.allreduce(counts, dist::ReduceOp::kSum);
    const double global_response = counts[0].item<double>(), global_total = counts[1].item<double>();

    algo::set_learning_rate(optimizer, schedule.lr(step));
    optimizer.zero_grad();
    const torch::Tensor nll_sum = -response_logprobs(st, batch).sum();
    // Average over ranks of (rank's token-sum * ranks / global tokens) = the global token mean.
    const torch::Tensor loss = nll_sum * (static_cast<double>(ranks) / std::max(1.0, global_response));
    loss.backward();

    // One bucket: every gradient, then the loss (for the log), averaged over the learner group.
    const double step_loss =
        allreduce_gradients(comm, plist, {loss.detach().item<double>()}, dist::ReduceOp::kAvg).at(0);
    optimizer.step();
    ++step;
    if (first_loss < 0) first_loss = step_loss;
    last_loss = step_loss;
    window_tokens += global_total;
    window_response += global_response;

    if (metrics && (step % s.log_every == 0 || step == s.steps || step == first_step + 1)) {
      const double dt = seconds_since(window);
      const double done = static_cast<double>(step - first_step);
      const double eta = seconds_since(start) / done * static_cast<double>(s.steps - step);
      log_info("sft", "step ", step, "/", s.steps, " loss ", std::fixed, std::setprecision(4), step_loss, " lr ",
               std::scientific, std::setprecision(3), schedule.lr(step - 1), std::fixed, std::setprecision(0),
               " tok/s ", window_tokens / std::max(dt, 1e-9), " (response ", window_response / std::max(dt, 1e-9),
               ") epoch ", sampler.epoch_of(step - 1), " eta ", duration_text(eta));
      window = Clock::now();
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
    torch::Tensor stop = torch::full({1}, stop_signal_number(), torch::kInt64);
    if (ranks > 1) comm.allreduce(stop, dist::ReduceOp::kMax);
    const int64_t stop_signal = stop.item<int64_t>();
    if (stop_signal != 0 && step < s.steps) {
      if (!checkpointed_last) save_checkpoint(step);
      if (metrics) {
        log_info("sft", "stopped by signal ", stop_signal, " at step ", step, "; checkpoint written: ",
                 store.main_path(step), "; resume with the same command", s.resume ? "" : " and --resume");
      }
      return;  // no validation or final model: the resumed run does those
    }
  }
  if (!checkpointed_last) save_checkpoint(step);
  if (metrics && step > first_step) {
    log_info("sft", "trained ", step - first_step, " updates in ", duration_text(seconds_since(start)),
             ": loss first ", std::fixed, std::setprecision(4), first_loss, " last ", last_loss);
  }

  // ---- validation: learner rank r scores val examples r, r + ranks, ... -----------------------
  std::vector<int64_t> val = dataset.indices(data::Split::kVal);
  if (static_cast<int64_t>(val.size()) > s.val_examples) val.resize(static_cast<size_t>(s.val_examples));
  if (!val.empty()) {
    module.eval();
    torch::NoGradGuard no_grad;
    double nll = 0, tokens = 0;
    std::vector<int64_t> mine;
    for (size_t i = static_cast<size_t>(rank); i < val.size(); i += static_cast<size_t>(ranks)) mine.push_back(val[i]);
    for (size_t i = 0; i < mine.size(); i += static_cast<size_t>(s.batch)) {
      const std::vector<int64_t> chunk(mine.begin() + static_cast<std::ptrdiff_t>(i),
                                       mine.begin() + static_cast<std::ptrdiff_t>(std::min(mine.size(), i + s.batch)));
      const SftBatch batch = builder.build(dataset, chunk);
      nll -= response_logprobs(st, batch).sum().item<double>();
      tokens += static_cast<double>(batch.response_tokens);
    }
    torch::Tensor sums = torch::tensor({nll, tokens}, torch::kFloat64);
    comm.allreduce(sums, dist::ReduceOp::kSum);
    if (metrics) {
      log_info("sft", "val loss ", std::fixed, std::setprecision(4),
               sums[0].item<double>() / std::max(1.0, sums[1].item<double>()), " over ", val.size(), " examples, ",
               static_cast<int64_t>(sums[1].item<double>()), " response tokens");
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

}  // namespace ril::roles
