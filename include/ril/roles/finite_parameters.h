// The guard after an update, before the weights leave the rank (weight sync, checkpoint, saved
// model): a NaN or an infinity in a parameter would reach every rollout rank and every later
// checkpoint (`--lr inf` once wrote every student weight non-finite and exited 0). Option ranges
// refuse the obvious causes; finite gradients and a finite lr can still overflow, so the run
// stops instead of spreading them.
// Which ranks call: any rank holding the parameters (no communication).
#pragma once

#include <string>

#include "ril/io/module_state.h"

namespace ril::roles {

// The name of the first parameter holding a NaN or an infinity, "" when all are finite.
std::string first_non_finite(const io::NamedTensors& params);

}  // namespace ril::roles
