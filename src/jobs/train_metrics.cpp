#include "ril/jobs/train_metrics.h"

#include <iomanip>
#include <sstream>

#include "ril/algo/schedules.h"
#include "ril/common/logging.h"
#include "ril/common/stopwatch.h"

namespace ril::jobs {

std::vector<std::string> TrainMetricsRow::columns(bool judge, bool overlap) {
#define RIL_METRIC_NAME(name) #name,
  std::vector<std::string> names = {RIL_TRAIN_METRIC_COLUMNS(RIL_METRIC_NAME)};
  const std::vector<std::string> judge_names = {RIL_TRAIN_JUDGE_METRIC_COLUMNS(RIL_METRIC_NAME)};
  const std::vector<std::string> overlap_names = {RIL_TRAIN_OVERLAP_METRIC_COLUMNS(RIL_METRIC_NAME)};
#undef RIL_METRIC_NAME
  if (judge) names.insert(names.end(), judge_names.begin(), judge_names.end());
  if (overlap) names.insert(names.end(), overlap_names.begin(), overlap_names.end());
  return names;
}

std::vector<double> TrainMetricsRow::values(bool judge, bool overlap) const {
#define RIL_METRIC_VALUE(name) name,
  std::vector<double> v = {RIL_TRAIN_METRIC_COLUMNS(RIL_METRIC_VALUE)};
  const std::vector<double> judge_values = {RIL_TRAIN_JUDGE_METRIC_COLUMNS(RIL_METRIC_VALUE)};
  const std::vector<double> overlap_values = {RIL_TRAIN_OVERLAP_METRIC_COLUMNS(RIL_METRIC_VALUE)};
#undef RIL_METRIC_VALUE
  if (judge) v.insert(v.end(), judge_values.begin(), judge_values.end());
  if (overlap) v.insert(v.end(), overlap_values.begin(), overlap_values.end());
  return v;
}

TrainMetricsRow metrics_row(const StepReport& report, const WorldFigures& world, const TrainInputs& in,
                            const TrainConfig& t, int64_t step, double seconds) {
  TrainMetricsRow row;
  const roles::RewardStats& r = report.learner.rewards;
  row.reward_student = r.reward_student;
  row.reward_teacher = r.reward_teacher;
  row.reward_disc_student = r.reward_disc_student;
  row.reward_disc_teacher = r.reward_disc_teacher;
  row.answer_acc_student = r.answer_acc_student;
  row.answer_acc_teacher = r.answer_acc_teacher;
  row.response_len_student = r.response_len_student;
  row.response_len_teacher = r.response_len_teacher;
  row.limit_hit_student = r.limit_hit_student;
  row.limit_hit_teacher = r.limit_hit_teacher;
  if (in.use_disc) {
    const roles::DiscriminatorStats& d = report.disc.stats;
    row.disc_loss = d.loss;
    row.disc_acc = d.accuracy;
    row.disc_acc_student = d.student_accuracy;
    row.disc_acc_teacher = d.teacher_accuracy;
    row.disc_prob_student = d.student_prob;
    row.disc_prob_teacher = d.teacher_prob;
  }
  if (in.train_student) {
    const roles::PolicyStats& p = report.learner.policy;
    row.policy_loss = p.policy_loss;
    row.pg_term = p.pg_term;
    row.kl = p.kl;
    row.kl_student = p.kl_student;
    row.kl_teacher = p.kl_teacher;
    row.entropy = p.entropy;
  }
  if (report.val_acc) row.val_acc = *report.val_acc;
  if (in.use_judge()) {
    row.judge_acc_student = r.judge_acc_student;
    row.judge_acc_teacher = r.judge_acc_teacher;
    row.judge_unparsed = r.judge_unparsed;
    row.judge_agreement = r.judge_agreement;
    row.judge_judged = static_cast<double>(report.judge.judged);
    row.judge_cached = static_cast<double>(report.judge.cached);
    row.time_judge = world.slowest.judge;
  }
  if (t.max_staleness > 0) {
    row.staleness = report.staleness;
    row.stale_dropped = static_cast<double>(report.stale_dropped);
    row.time_wait_rollouts = report.times.wait_rollouts;
  }
  row.time_teacher = world.slowest.teacher;
  row.time_rollout = world.slowest.rollout;
  row.time_disc = world.slowest.disc;
  row.time_learner = world.slowest.learner;
  row.time_step = seconds;
  row.tokens_per_s = world.tokens / std::max(seconds, 1e-9);
  row.lr = in.ril() ? t.lr
                    : algo::LrSchedule({algo::LrScheduleKind::kLinear, t.pretrain_lr, t.pretrain_lr_end, t.steps})
                          .lr(step - 1);
  row.bad_steps = static_cast<double>(report.learner.skipped_updates + report.disc.skipped_updates);
  return row;
}

std::string progress_line(const TrainMetricsRow& row, const TrainInputs& in, const TrainConfig& t, int64_t step,
                          double eta_seconds) {
  std::ostringstream line;
  line << std::fixed << std::setprecision(2) << "step " << step << "/" << t.steps << " reward S "
       << row.reward_student;
  if (in.use_teachers) line << " T " << row.reward_teacher;
  line << " | answer S " << row.answer_acc_student;
  if (in.use_judge()) {
    line << " | judge S " << row.judge_acc_student << " unparsed " << std::setprecision(0) << row.judge_unparsed;
    if (!std::isnan(row.judge_agreement)) line << std::setprecision(2) << " agree " << row.judge_agreement;
    line << std::setprecision(2);
  }
  if (in.use_disc) line << " | D acc " << row.disc_acc << " loss " << std::setprecision(3) << row.disc_loss;
  if (in.ril()) line << std::setprecision(4) << " | kl " << row.kl << " loss " << row.policy_loss;
  if (in.ril()) line << std::setprecision(2) << " H " << row.entropy;
  line << std::setprecision(1) << " | len S " << row.response_len_student;
  if (in.use_teachers) line << " T " << row.response_len_teacher;
  line << std::setprecision(2) << " cut S " << row.limit_hit_student;
  if (!std::isnan(row.val_acc)) line << " | val " << std::setprecision(3) << row.val_acc;
  line << std::setprecision(0) << " | " << row.tokens_per_s << " tok/s | s/group tea " << std::setprecision(1)
       << row.time_teacher << " roll " << row.time_rollout << " disc " << row.time_disc << " learn "
       << row.time_learner;
  if (in.use_judge()) line << " judge " << row.time_judge;
  if (t.max_staleness > 0) line << " wait " << row.time_wait_rollouts << " | lag " << row.staleness;
  line << " | eta " << duration_text(eta_seconds);
  return line.str();
}

void warn_on_collapse(const TrainMetricsRow& row, const TrainInputs& in, const TrainConfig& t, int64_t step,
                      bool progress_step, CollapseWatch& watch) {
  if (!in.ril()) return;
  const bool kl_over = row.kl_student > t.warn_kl;
  const bool limit_over = row.limit_hit_student > t.warn_limit_share;
  if (watch.kl_over && !kl_over) log_info("train", "step ", step, ": KL on student tokens back below --warn-kl ", t.warn_kl);
  if (watch.limit_over && !limit_over) {
    log_info("train", "step ", step, ": share of student responses at the token limit back below --warn-limit-share ",
             t.warn_limit_share);
  }
  const bool kl_warn = kl_over && (!watch.kl_over || progress_step);
  const bool limit_warn = limit_over && (!watch.limit_over || progress_step);
  watch.kl_over = kl_over;
  watch.limit_over = limit_over;
  if (kl_warn) {
    log_warn("train", "step ", step, ": KL to the reference on student tokens is ", row.kl_student, " (> --warn-kl ",
             t.warn_kl, "): the student is drifting; lower --lr or raise --beta if it keeps growing");
  }
  if (limit_warn) {
    log_warn("train", "step ", step, ": ", std::lround(100 * row.limit_hit_student),
             "% of student responses hit --max-new-tokens ", t.max_new_tokens, " without a stop token (> --warn-limit-share ",
             t.warn_limit_share, "): a sign of collapse into repetition");
  }
}

}  // namespace ril::jobs
