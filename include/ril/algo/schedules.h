// Learning-rate schedules used by the paper (DESIGN.md section 1, "Optimisation"): SFT and
// discriminator pre-training decay linearly 1e-5 -> 1e-6; RIL runs at a constant 1e-6.
// Stateless: the lr is a function of the update index, so a restart from a checkpoint only
// needs the step number.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace ril::algo {

enum class LrScheduleKind { kConstant, kLinear };
const char* lr_schedule_kind_name(LrScheduleKind kind);
// "constant" / "linear"; throws ril::ConfigError for anything else.
LrScheduleKind parse_lr_schedule_kind(const std::string& name);

struct LrScheduleOptions {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  double start_lr = 1e-6;    // lr of update 0 (constant: of every update)
  double end_lr = 1e-6;      // linear: lr of update total_steps - 1 and after
  int64_t total_steps = 1;   // linear: number of updates of the decay (>= 1)
  // Updates 0..warmup_steps-1 ramp linearly up to start_lr ((k + 1) / warmup_steps of it);
  // the schedule above then runs from update warmup_steps on. A short warm-up lets a freshly
  // initialised model take a larger learning rate (Adam's moments settle first).
  int64_t warmup_steps = 0;
};

class LrSchedule {
 public:
  // Throws ril::ConfigError for a negative lr or total_steps < 1.
  explicit LrSchedule(const LrScheduleOptions& options);
  // lr of update `step` (0-based, >= 0). After the warm-up (W updates), with s = step - W and
  // N = total_steps - W: linear start + (end - start) * min(s, N-1) / (N-1), so the first update
  // after the warm-up uses start_lr and the last (N-1) uses end_lr; N <= 1 gives start_lr.
  double lr(int64_t step) const;
  const LrScheduleOptions& options() const { return options_; }

 private:
  LrScheduleOptions options_;
};

// Sets the lr of every parameter group of `optimizer` (AdamW, SGD, ...).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace ril::algo
