// What the learner and the discriminator put away between their phases (`ril train --offload`,
// issue 18 item 4; the paper swaps D and the student on and off the GPU):
//   none             everything stays where it is;
//   optimizer        the idle component's AdamW moments (exp_avg, exp_avg_sq; the step count is
//                    a scalar and stays) leave its device between its updates, and its gradients
//                    are released (the next update zeroes them to none anyway);
//   optimizer+model  also the idle model's weights: D's between its steps, and the learner's
//                    frozen reference pi_ref between its updates (the student itself stays: the
//                    weight sync, rollouts, validation and checkpoints read it).
// Where "away" is: roles/state_offload.h. Which ranks call: any; pure.
#pragma once

#include <string>

namespace ril {

enum class OffloadMode { kNone, kOptimizer, kOptimizerAndModel };

// "none" | "optimizer" | "optimizer+model"; ConfigError naming `option` and the value otherwise.
OffloadMode parse_offload_mode(const std::string& text, const std::string& option = "--offload");
const char* offload_mode_name(OffloadMode mode);

}  // namespace ril
