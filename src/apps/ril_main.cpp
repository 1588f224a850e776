// ril: the one executable. Parses and validates the configuration on every rank before anything
// is allocated, sets up the rank groups, runs the subcommand, and ends the job cleanly on error:
// - bad input found while parsing or validating (ConfigError, the same on every rank): the
//   lowest failing rank prints it once, every rank exits with status 2;
// - any other failure: the failing rank logs it and aborts the job (MPI_Abort), so that no rank
//   is left waiting in a collective.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "ril/common/config_parser.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/stop_signal.h"
#include "ril/data/dataset_summary.h"
#include "ril/dist/device.h"
#include "ril/dist/mpi_context.h"
#include "ril/dist/rank_groups.h"
#include "ril/dist/role_map.h"
#include "ril/io/file_summary.h"
#include "ril/io/teacher_cache.h"
#include "ril/jobs/eval_job.h"
#include "ril/jobs/plot_job.h"
#include "ril/jobs/sft_job.h"
#include "ril/jobs/smoke_job.h"
#include "ril/jobs/teach_job.h"
#include "ril/jobs/train_job.h"
#include "ril/model/model_size.h"

namespace {

constexpr int kExitConfigError = 2;

void print_stdout(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// Collective: true if every rank is fine; otherwise the lowest failing rank prints its error.
bool agree_or_report(const std::string& error) {
  const int failing = ril::dist::lowest_rank_with(!error.empty());
  if (failing < 0) return true;
  if (failing == ril::error_rank()) std::fprintf(stderr, "ril: error: %s\n", error.c_str());
  return false;
}

// `ril info FILE`: rank 0 reads; every rank learns the verdict, so none is left behind.
int run_info(const ril::Config& config) {
  std::string error;
  if (ril::error_rank() == 0) {
    try {
      print_stdout(config.info.model.empty() ? ril::io::summarize_file(config.info.path)
                                             : ril::model::describe_model_size(
                                                   ril::model::model_preset_or_config(config.info.model), config.info.model));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  return agree_or_report(error) ? 0 : 1;
}

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
  try {
    parsed = ril::parse_command_line(argc, argv);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!agree_or_report(error)) return kExitConfigError;
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
    ril::Logger::instance().set_identity(rank, "info");
    return run_info(config);
  }

  // 2. Layout and device: still local and deterministic, still before any allocation.
  std::unique_ptr<ril::dist::RoleMap> map;
  ril::dist::RankGroupsOptions group_options;
  try {
    map = std::make_unique<ril::dist::RoleMap>(ril::dist::RoleMap::from_spec(config.common.layout, mpi.size()));
    group_options.local_rank = ril::dist::detect_local_rank();
    group_options.device = ril::dist::select_device(config.common.device, group_options.local_rank);
    group_options.backend = ril::dist::parse_comm_backend(config.common.comm);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!agree_or_report(error)) return kExitConfigError;
  ril::Logger::instance().set_identity(rank, map->roles_text(rank));

  // 3. Run. From here a failure on one rank aborts the job.
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
    ril::dist::world_barrier();
  } catch (const ril::ConfigError& e) {
    // Thrown alike on every rank (see RankGroups::create): report once, exit cleanly.
    if (rank == 0) std::fprintf(stderr, "ril: error: %s\n", e.what());
    return kExitConfigError;
  } catch (const std::exception& e) {
    ril::log_error("main", e.what());
    ril::log_error("main", "aborting the job");
    ril::dist::abort_job(1);
  }
  return 0;
}
