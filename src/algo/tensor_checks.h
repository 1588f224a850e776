// Private helpers of the algo area: the compute dtype and common argument checks.
#pragma once

#include <torch/torch.h>

namespace ril::algo::detail {

// float64 stays float64 (reference tests); everything else (bf16, f16, f32, integers, bool)
// is computed in float32.
inline torch::ScalarType compute_dtype(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

// A 0/1 or bool tensor as bool.
inline torch::Tensor as_bool(const torch::Tensor& t) {
  return t.scalar_type() == torch::kBool ? t : t.ne(0);
}

}  // namespace ril::algo::detail
