// ril: the one executable. Parses and validates the configuration on every rank before anything
// is allocated, sets up the rank groups, takes the run directory's lock (sft, train), runs the
// subcommand, and ends the job with one message and one exit status (README "Exit codes"):
// 0 ok, 1 runtime error, 2 bad input (ConfigError), 3 stopped by a signal with a checkpoint
// (resumable). Every stage ends in a collective verdict (dist::agree_on_status): the lowest
// failing rank prints "ril: error: ..." once and every rank exits with its status, without
// MPI_Abort. A rank that failed while others still work (or wait for it in a collective) waits
// for them a few seconds, then prints its error and ends the job with MPI_Abort: the last resort.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "ril/common/config_parser.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/stop_signal.h"
#include "ril/data/dataset_summary.h"
#include "ril/dist/device.h"
#include "ril/dist/mpi_context.h"
#include "ril/dist/rank_groups.h"
#include "ril/dist/role_map.h"
#include "ril/io/atomic_file.h"
#include "ril/io/file_summary.h"
#include "ril/io/judge_verdict_cache.h"
#include "ril/io/run_dir_lock.h"
#include "ril/io/teacher_cache.h"
#include "ril/jobs/eval_job.h"
#include "ril/jobs/plot_job.h"
#include "ril/jobs/sft_job.h"
#include "ril/jobs/smoke_job.h"
#include "ril/jobs/teach_job.h"
#include "ril/jobs/train_inputs.h"
#include "ril/jobs/train_job.h"
#include "ril/model/memory_plan.h"
#include "ril/model/model_size.h"

namespace {

void print_stdout(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

int status_of(const std::exception& e) {
  return ril::exit_status(dynamic_cast<const ril::ConfigError*>(&e) ? ril::ExitCode::kBadInput
                                                                     : ril::ExitCode::kRuntimeError);
}

// Every rank: the job's status from every rank's `code`; the lowest failing rank prints its
// `error` (escaped: it may quote a file's bytes). Returns the agreed status.
int settle(int code, const std::string& error) {
  const ril::dist::StatusVerdict verdict = ril::dist::agree_on_status(code);
  if (verdict.report_here) {
    std::string text = "ril: error: " + ril::printable(error, /*keep_newlines=*/true) + "\n";
    if (verdict.others_unreachable) {
      text += ril::cat("ril: rank ", ril::error_rank(), " failed while the other ranks were still working; ending the job (MPI_Abort)\n");
    }
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  }
  if (verdict.others_unreachable) ril::dist::abort_job(code);
  return verdict.code;
}

// `ril info --model`: the sizes, then the memory plan per learner rank (ConfigError: exit 2).
std::string model_report(const ril::InfoConfig& info) {
  const ril::model::ModelConfig config = ril::model::model_preset_or_config(info.model);
  ril::model::MemoryPlanOptions o;
  o.learners = info.learners;
  o.batch = info.batch;
  o.seq_len = info.seq_len;
  o.dtype = info.dtype;
  o.checkpoint_activations = info.checkpoint_activations;
  std::vector<ril::model::ShardMode> modes = {ril::model::ShardMode::kNone, ril::model::ShardMode::kOptimizer,
                                              ril::model::ShardMode::kGradients};
  RIL_CONFIG_CHECK(info.shard == "all" || info.shard == "none" || info.shard == "optimizer" || info.shard == "gradients",
                   "ril info: --shard must be none, optimizer, gradients or all, got '", info.shard, "'");
  if (info.shard != "all") modes = {ril::model::parse_shard_mode(info.shard)};
  const std::string plan = ril::model::describe_memory_plan(config, info.model, o, modes);  // checks first
  return ril::model::describe_model_size(config, info.model) + plan;
}

// `ril info FILE`: rank 0 reads; every rank learns the verdict, so none is left behind.
int run_info(const ril::Config& config) {
  std::string error;
  int code = 0;
  if (ril::error_rank() == 0) {
    try {
      print_stdout(config.info.model.empty() ? ril::io::summarize_file(config.info.path) : model_report(config.info));
    } catch (const std::exception& e) {
      error = e.what();
      code = status_of(e);
    }
  }
  return settle(code, error);
}

// Commands that keep state in their run directory (checkpoints, metrics) hold its lock.
bool holds_run_dir_lock(const std::string& command) { return command == "sft" || command == "train"; }

}  // namespace

int main(int argc, char** argv) {
  ril::dist::MpiContext mpi(&argc, &argv);
  const int rank = mpi.rank();
  // At once for the commands that stop on a signal (their loops check the flag every step): a
  // SIGUSR1 forwarded by mpirun/Slurm while a rank is still starting up must not kill it. Other
  // commands keep the default actions.
  if (argc > 1 && (std::string(argv[1]) == "sft" || std::string(argv[1]) == "train")) {
    ril::install_stop_signal_handlers();
  }

  // 1. Parse and check options: local, deterministic.
  ril::ParseResult parsed;
  std::string error;
  int code = 0;
  try {
    parsed = ril::parse_command_line(argc, argv);
  } catch (const std::exception& e) {
    error = e.what();
    code = ril::exit_status(ril::ExitCode::kBadInput);
  }
  if (settle(code, error) != 0) return ril::exit_status(ril::ExitCode::kBadInput);
  if (parsed.exit_now) {
    if (rank == 0) print_stdout(parsed.output);
    return 0;
  }
  const ril::Config& config = parsed.config;
  ril::Logger::instance().set_level(ril::parse_log_level(config.common.log_level));

  if (config.command == "info") {
    ril::io::register_kind_summary("dataset", [](const ril::io::H5File& file) { return ril::data::summarize_dataset(file); });
    ril::io::register_kind_summary(ril::io::kTeacherCacheKind, ril::io::summarize_teacher_cache);
    ril::io::register_kind_summary(ril::io::kMetricsKind, ril::io::summarize_metrics);
    ril::io::register_kind_summary(ril::io::kJudgeVerdictsKind, ril::io::summarize_judge_verdicts);
    ril::Logger::instance().set_identity(rank, "info");
    return run_info(config);
  }

  // 2. Layout and device: still local and deterministic, still before any allocation.
  std::unique_ptr<ril::dist::RoleMap> map;
  ril::dist::RankGroupsOptions group_options;
  try {
    map = std::make_unique<ril::dist::RoleMap>(
        config.command == "train" ? ril::jobs::train_role_map(config.common.layout, mpi.size(), config.train)
                                  : ril::dist::RoleMap::from_spec(config.common.layout, mpi.size()));
    RIL_CONFIG_CHECK(config.command == "train" || map->ranks(ril::dist::Role::kJudge).empty(), "--layout '",
                     config.common.layout, "' has judge ranks, but the judge role is for ril train --judge only");
    group_options.local_rank = ril::dist::detect_local_rank();
    group_options.device = ril::dist::select_device(config.common.device, group_options.local_rank);
    group_options.backend = ril::dist::parse_comm_backend(config.common.comm);
  } catch (const std::exception& e) {
    error = e.what();
    code = ril::exit_status(ril::ExitCode::kBadInput);
  }
  if (settle(code, error) != 0) return ril::exit_status(ril::ExitCode::kBadInput);
  ril::Logger::instance().set_identity(rank, map->roles_text(rank));

  // 3. The run directory: one job at a time (rank 0 holds the lock until it returns); under the
  //    lock no writer of the directory can be alive, so every NAME.tmp.PID in it is stale.
  std::unique_ptr<ril::io::RunDirLock> run_dir_lock;
  if (rank == 0 && holds_run_dir_lock(config.command)) {
    try {
      ril::io::RunDirLockOptions lock_options;
      lock_options.command = "ril " + config.command;
      run_dir_lock = std::make_unique<ril::io::RunDirLock>(config.common.run_dir, lock_options);
      ril::io::StaleTemporaryOptions stale;
      stale.recursive = true;
      stale.any_pid = true;
      const std::vector<std::string> removed = ril::io::remove_stale_temporaries(config.common.run_dir, stale);
      for (const std::string& path : removed) ril::log_warn("main", "removed ", path, ", left by a killed writer");
    } catch (const std::exception& e) {
      error = e.what();
      code = status_of(e);
    }
  }
  if (const int agreed = settle(code, error)) return agreed;

  // 4. Run. Any failure ends in the same verdict: one message, one status on every rank.
  try {
    auto groups = ril::dist::RankGroups::create(*map, group_options);
    if (groups->is_metrics_rank()) {
      ril::log_info("main", ril::version_text());
      ril::log_info("main", "resolved configuration:\n", config.resolved_text());
      ril::log_info("main", groups->describe());
    }
    if (config.command == "smoke") {
      ril::jobs::run_smoke_job(*groups, config);
    }
    if (config.command == "teach") {
      ril::jobs::run_teach_job(*groups, config);
    }
    if (config.command == "sft") {
      ril::jobs::run_sft_job(*groups, config);
    }
    if (config.command == "train") {
      ril::jobs::run_train_job(*groups, config);
    }
    if (config.command == "eval") {
      ril::jobs::run_eval_job(*groups, config);
    }
    if (config.command == "plot") {
      ril::jobs::run_plot_job(*groups, config);
    }
  } catch (const std::exception& e) {
    error = e.what();
    code = status_of(e);
  }
  if (code == 0 && ril::stopped_with_checkpoint()) code = ril::exit_status(ril::ExitCode::kStoppedResumable);
  return settle(code, error);
}
