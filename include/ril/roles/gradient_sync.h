// Data-parallel gradient reduction for the learner and discriminator groups: every parameter's
// gradient (zeros where a parameter has none) and a few extra scalars (losses, counts) travel as
// ONE flat float32 bucket through one allreduce, and are written back into the gradients.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "ril/dist/communicator.h"

namespace ril::roles {

// Collective over `comm`. Returns the reduced extras. With one rank nothing moves.
std::vector<double> allreduce_gradients(dist::Communicator& comm, const std::vector<torch::Tensor>& params,
                                        const std::vector<double>& extra, dist::ReduceOp op);

// True when every defined gradient is finite.
bool gradients_finite(const std::vector<torch::Tensor>& params);

}  // namespace ril::roles
