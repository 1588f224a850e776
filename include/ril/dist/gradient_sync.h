// Data-parallel gradient reduction for the learner and discriminator groups: every parameter's
// gradient (zeros where a parameter has none) travels as ONE flat float32 bucket through one
// allreduce over the group's DEVICE communicator (RankGroups::group(): NCCL where every rank has
// its own GPU), and is written back into the gradients. The statistics of a step (losses,
// counts) are host data and go separately (allreduce_values, host_messages.h).
// Which ranks call: every member of `comm`.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "ril/dist/communicator.h"

namespace ril::dist {

// Collective over `comm`. With one rank nothing moves (undefined gradients become zeros).
void allreduce_gradients(Communicator& comm, const std::vector<at::Tensor>& params, ReduceOp op);

// True when every defined gradient is finite. Local.
bool gradients_finite(const std::vector<at::Tensor>& params);

}  // namespace ril::dist
