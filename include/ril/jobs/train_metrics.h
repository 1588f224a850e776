// `ril train`'s metrics: one row per step in <run-dir>/metrics.h5 + metrics.csv
// (io/metrics_table.h), a progress line, and collapse warnings. The columns are declared ONCE,
// in RIL_TRAIN_METRIC_COLUMNS below: the row type's fields and the table's column names (in this
// order) both come from it, so a misspelt column is a compile error, not a silent NaN column.
// A field nobody set stays NaN (e.g. the policy columns in --stage disc, val_acc between
// --val-every steps, the judge_* columns without --judge).
// The judge's columns (--answer-reward judge|both): judge_acc_student/_teacher the share judged
// correct, judge_unparsed the step's unparsed or budget-cut verdicts (a count over all 2G
// responses per question; they score 0), judge_agreement (both only) the share of responses where
// judge and rule checker agree, judge_judged the texts the judge model read this step,
// judge_cached the teacher responses whose verdict came from the run's verdict cache. Which ranks call: the metrics rank (the learner root).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ril/common/config.h"
#include "ril/jobs/train_inputs.h"
#include "ril/jobs/train_step.h"

// X(name): one column each, in table order (the order of metrics.h5/csv written so far).
#define RIL_TRAIN_METRIC_COLUMNS(X)                                                                      \
  X(reward_student) X(reward_teacher) X(reward_disc_student) X(reward_disc_teacher) X(answer_acc_student) \
  X(answer_acc_teacher) X(disc_loss) X(disc_acc) X(disc_acc_student) X(disc_acc_teacher)                  \
  X(disc_prob_student) X(disc_prob_teacher) X(kl) X(policy_loss) X(pg_term) X(entropy)                    \
  X(response_len_student) X(response_len_teacher) X(tokens_per_s) X(time_teacher) X(time_rollout)         \
  X(time_disc) X(time_learner) X(time_step) X(lr) X(bad_steps) X(kl_student) X(kl_teacher)                \
  X(limit_hit_student) X(limit_hit_teacher) X(val_acc)

// --judge runs only: these columns follow the ones above (a run without --judge writes the table
// of earlier runs, so those still resume).
#define RIL_TRAIN_JUDGE_METRIC_COLUMNS(X)                                                                \
  X(judge_acc_student) X(judge_acc_teacher) X(judge_unparsed) X(judge_agreement) X(judge_judged)          \
  X(judge_cached) X(time_judge)

// --max-staleness 1 runs only (after the judge's columns, if any): staleness is the mean weight-version
// lag of the student responses the learner used this step (0 on a job's first step, else 1);
// stale_dropped the student responses dropped as older than the bound (0 by construction);
// time_wait_rollouts the learner root's seconds from its teacher pick to the step's responses in hand.
#define RIL_TRAIN_OVERLAP_METRIC_COLUMNS(X) X(staleness) X(stale_dropped) X(time_wait_rollouts)

namespace ril::jobs {

struct TrainMetricsRow {
#define RIL_METRIC_FIELD(name) double name = std::nan("");
  RIL_TRAIN_METRIC_COLUMNS(RIL_METRIC_FIELD)
  RIL_TRAIN_JUDGE_METRIC_COLUMNS(RIL_METRIC_FIELD)
  RIL_TRAIN_OVERLAP_METRIC_COLUMNS(RIL_METRIC_FIELD)
#undef RIL_METRIC_FIELD

  // The names, in table order (with the judge's columns when `judge`, then the overlap's when `overlap`).
  static std::vector<std::string> columns(bool judge = false, bool overlap = false);
  std::vector<double> values(bool judge = false, bool overlap = false) const;  // the values, in the same order
};

// What every rank contributes to the row, reduced over the world (max): the slowest rank's
// seconds per role, the learners' token count, and any stop signal.
struct WorldFigures {
  StepTimes slowest;
  double tokens = 0;
  int stop_signal = 0;
};

// The row of one step (step = updates done, >= 1) from the metrics rank's report and the world
// figures; `seconds` is the step's wall time.
TrainMetricsRow metrics_row(const StepReport& report, const WorldFigures& world, const TrainInputs& in,
                            const TrainConfig& t, int64_t step, double seconds);

// "step 12/30 reward S 0.56 T 1.12 | answer S 0.12 | D acc ... | eta 41s" (README.md).
std::string progress_line(const TrainMetricsRow& row, const TrainInputs& in, const TrainConfig& t, int64_t step,
                          double eta_seconds);

// Collapse is visible, not silent (ril stage): a warning when the KL to the reference on the
// student's own tokens passes --warn-kl, or when more than --warn-limit-share of the sampled
// responses run to --max-new-tokens without a stop token. A sign warns on the step it crosses its
// threshold and then again on progress-line steps while it stays above (not on every step: a
// collapsed run would bury its log); an info line says when it falls back below.
struct CollapseWatch {
  bool kl_over = false;
  bool limit_over = false;
};
void warn_on_collapse(const TrainMetricsRow& row, const TrainInputs& in, const TrainConfig& t, int64_t step,
                      bool progress_step, CollapseWatch& watch);

}  // namespace ril::jobs
