#include "ril/jobs/train_job.h"

#include <filesystem>
#include <optional>

#include "ril/common/logging.h"
#include "ril/common/stop_signal.h"
#include "ril/common/stopwatch.h"
#include "ril/dist/host_messages.h"
#include "ril/io/metrics_table.h"
#include "ril/jobs/train_inputs.h"
#include "ril/jobs/train_metrics.h"
#include "ril/jobs/train_state.h"
#include "ril/jobs/train_step.h"

namespace ril::jobs {
namespace {

namespace fs = std::filesystem;
using dist::Channel;
using dist::Role;

// One world allreduce (max) after every step: the slowest rank's seconds per role, the
// learners' token count, and the stop signal any rank has seen (so that all stop alike).
WorldFigures reduce_over_world(const dist::RankGroups& groups, const StepReport& report) {
  const StepTimes& t = report.times;
  const std::vector<double> v = dist::allreduce_values(
      *groups.channel(Channel::kWorld),
      {t.teacher, t.rollout, t.disc, t.learner, static_cast<double>(stop_signal_number()), report.learner.policy.tokens,
       t.judge},
      dist::ReduceOp::kMax);
  WorldFigures w;
  w.slowest = {v[0], v[1], v[2], v[3], v[6]};
  w.stop_signal = static_cast<int>(v[4]);
  w.tokens = v[5];
  return w;
}

// The final models: the student (ril stage) from the learner root, D from its root.
void write_models(const dist::RankGroups& groups, const Config& config, const TrainInputs& in, TrainRoles& roles,
                  int64_t step) {
  const TrainConfig& t = config.train;
  const std::string run_dir = config.common.run_dir;
  if (in.ril() && groups.is_metrics_rank()) {
    const std::string out = t.out.empty() ? run_dir + "/model" : t.out;
    roles::save_policy(*roles.student, out);
    fs::copy_file(in.tokenizer_path, fs::path(out) / "tokenizer.json", fs::copy_options::overwrite_existing);
    log_info("train", "student after ", step, " steps written to ", out);
  }
  if (roles.discriminator && groups.world_rank() == groups.role_map().root(Role::kDiscriminator)) {
    const std::string out = !in.ril() && !t.out.empty() ? t.out : run_dir + "/discriminator";
    roles.discriminator->save_model(out);
    fs::copy_file(in.tokenizer_path, fs::path(out) / "tokenizer.json", fs::copy_options::overwrite_existing);
    log_info("train", "discriminator written to ", out);
  }
}

class TrainLoop {
 public:
  TrainLoop(const dist::RankGroups& groups, const Config& config, TrainInputs in)
      : groups_(groups),
        config_(config),
        t_(config.train),
        in_(std::move(in)),
        checkpoints_(groups, config, in_),
        roles_(make_train_roles(groups, config, in_, checkpoints_.directory())),
        driver_(groups, roles_, in_, t_, config.common.seed) {}

  void run() {
    const ResumeTarget target = checkpoints_.find_resume_target();
    checkpoints_.load(target, roles_);
    int64_t step = target.step;
    driver_.sync_weights(step + 1);  // rollout and D ranks start from the learner's weights
    if (groups_.is_metrics_rank()) {
      // Rows are held in memory and written every 1024 rows / 2 s, before each checkpoint (save()
      // below) and when the table closes (io/metrics_table.h: one fsync-free write per row cost
      // ~0.3-2 ms a step).
      table_.emplace(io::MetricsTable::open(config_.common.run_dir, TrainMetricsRow::columns(in_.use_judge(), t_.max_staleness > 0), step,
                                            io::kTrainMetricsBuffering));
      log_info("train", describe_run(in_, t_, step));
    }
    const Stopwatch clock;
    const int64_t first_step = first_logged_ = step;
    bool checkpointed_last = step > 0;
    while (step < t_.steps) {
      const Stopwatch step_clock;
      const StepReport report = driver_.run(step);
      ++step;
      const WorldFigures world = reduce_over_world(groups_, report);
      if (table_) record(report, world, step, step_clock.seconds(), clock.seconds() / static_cast<double>(step - first_step));
      checkpointed_last = false;
      if (t_.checkpoint_every > 0 && step % t_.checkpoint_every == 0 && step < t_.steps) {
        save(step);
        checkpointed_last = true;
      }
      if (world.stop_signal != 0 && step < t_.steps) {
        if (!checkpointed_last) save(step);
        if (table_) table_->close();  // the held rows, before the exit status says "resumable"
        note_stopped_with_checkpoint();  // main exits with status 3: resumable
        if (table_) {
          log_info("train", "stopped by signal ", world.stop_signal, " at step ", step, "; checkpoint written: ",
                   checkpoints_.main_path(step), "; resume with the same command");
        }
        return;
      }
    }
    if (!checkpointed_last) save(step);
    if (table_) table_->close();
    write_models(groups_, config_, in_, roles_, step);
  }

 private:
  // A checkpoint of `step`. The metrics rank writes its held rows first: a resume from this
  // checkpoint keeps the rows up to `step` (MetricsTable::open drops the later ones), so those
  // must be in the files before the checkpoint exists.
  void save(int64_t step) {
    if (table_) table_->flush();
    checkpoints_.save(step, roles_);
  }

  // Metrics rank: the row, the progress line (every --log-every steps, the first and the last),
  // collapse warnings.
  void record(const StepReport& report, const WorldFigures& world, int64_t step, double seconds,
              double seconds_per_step) {
    const TrainMetricsRow row = metrics_row(report, world, in_, t_, step, seconds);
    table_->append(step, row.values(in_.use_judge(), t_.max_staleness > 0));
    const bool progress_step = step % t_.log_every == 0 || step == t_.steps || step == first_logged_ + 1;
    if (progress_step) {
      log_info("train", progress_line(row, in_, t_, step, seconds_per_step * static_cast<double>(t_.steps - step)));
    }
    warn_on_collapse(row, in_, t_, step, progress_step, collapse_watch_);
  }

  const dist::RankGroups& groups_;
  const Config& config_;
  const TrainConfig& t_;
  const TrainInputs in_;
  TrainCheckpoints checkpoints_;
  TrainRoles roles_;
  TrainStep driver_;
  std::optional<io::MetricsTable> table_;
  int64_t first_logged_ = 0;
  CollapseWatch collapse_watch_;
};

}  // namespace

void run_train_job(const dist::RankGroups& groups, const Config& config) {
  install_stop_signal_handlers();
  TrainLoop loop(groups, config, check_train_inputs(config.train, config.common.run_dir));  // inputs: identical verdicts on every rank
  loop.run();
}

}  // namespace ril::jobs
