#include "ril/algo/schedules.h"

#include <algorithm>

#include "ril/common/error.h"

namespace ril::algo {

const char* lr_schedule_kind_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::kConstant: return "constant";
    case LrScheduleKind::kLinear: return "linear";
  }
  return "?";
}

LrScheduleKind parse_lr_schedule_kind(const std::string& name) {
  if (name == "constant") return LrScheduleKind::kConstant;
  if (name == "linear") return LrScheduleKind::kLinear;
  throw ConfigError(cat("unknown lr schedule '", name, "' (expected constant or linear)"));
}

LrSchedule::LrSchedule(const LrScheduleOptions& options) : options_(options) {
  RIL_CONFIG_CHECK(options.start_lr >= 0 && options.end_lr >= 0,
                   "lr schedule: learning rates must be >= 0, got start ", options.start_lr,
                   ", end ", options.end_lr);
  RIL_CONFIG_CHECK(options.total_steps >= 1, "lr schedule: total_steps must be >= 1, got ",
                   options.total_steps);
  RIL_CONFIG_CHECK(options.warmup_steps >= 0, "lr schedule: warmup_steps must be >= 0, got ", options.warmup_steps);
}

double LrSchedule::lr(int64_t step) const {
  RIL_CHECK(step >= 0, "lr schedule: negative step ", step);
  const int64_t warmup = options_.warmup_steps;
  if (step < warmup) {
    return options_.start_lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  }
  const int64_t last = options_.total_steps - warmup - 1;
  if (options_.kind == LrScheduleKind::kConstant || last <= 0) {
    return options_.start_lr;
  }
  const double frac = static_cast<double>(std::min(step - warmup, last)) / static_cast<double>(last);
  return options_.start_lr + (options_.end_lr - options_.start_lr) * frac;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace ril::algo
