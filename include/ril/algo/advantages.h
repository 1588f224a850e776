// Dr.GRPO group advantages (DESIGN.md section 1, step 6):
//   A_i = R_i - mean_{j in group(i)} R_j
// over each question's group of 2G responses (G student + G teacher). No division by the
// group's std (Dr.GRPO drops that bias), so a group with equal rewards gets A = 0 throughout
// and every group's advantages sum to zero.
// Called by the learner after compute_rewards(); pure tensor math, any device.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace ril::algo {

// rewards [N] (N a multiple of group_size), groups stored contiguously: responses
// [k*group_size, (k+1)*group_size) belong to question k. Returns [N] float32 (float64 for
// float64 rewards).
torch::Tensor group_advantages(const torch::Tensor& rewards, int64_t group_size);

// rewards [N]; group_index [N] integer, element i = the group (question) of response i, any
// order, values in [0, num_groups) (num_groups = max + 1; unused ids are allowed). Groups may
// differ in size. Returns [N] float32 (float64 for float64 rewards).
torch::Tensor group_advantages(const torch::Tensor& rewards, const torch::Tensor& group_index);

}  // namespace ril::algo
