// Scaled dot-product attention shared by the decoder and the vision tower.
// CPU: a plain readable implementation (softmax in float32, as HF's eager path), identical in
// the LibTorch 1.13 and 2.x builds. CUDA with LibTorch >= 2: at::scaled_dot_product_attention
// (fused flash / memory-efficient kernels).
#pragma once

#include <torch/types.h>

namespace ril::model {

// q [B, H, T, Dh], k and v [B, H, S, Dh] (already repeated for grouped-query attention),
// mask [B or 1, 1, T, S] bool with true = may attend, or undefined for no mask.
// Returns [B, H, T, Dh] in q's dtype. Scale: 1 / sqrt(Dh).
torch::Tensor scaled_dot_product_attention(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v, const torch::Tensor& mask);

// The naive path, always (tests use it as the oracle for the fused one).
torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& mask);

// Grouped-query attention without copying the keys and values: q [B, H, T, Dh],
// k and v [B, Hkv, S, Dh] (H a multiple of Hkv; query heads i * n_rep .. (i + 1) * n_rep - 1
// share kv head i, as HF repeat_kv), mask [B or 1, 1, T, S] bool or undefined.
// The n_rep query heads of a group are stacked on the query axis, [B, Hkv, n_rep * T, Dh], so
// one matmul per kv head serves them all; the result equals attention over repeat_kv(k, v).
// Returns [B, H, T, Dh].
torch::Tensor grouped_query_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& mask);

// HF repeat_kv: [B, Hkv, S, Dh] -> [B, Hkv * n_rep, S, Dh]; kv head i serves query heads
// i * n_rep .. (i + 1) * n_rep - 1.
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep);

}  // namespace ril::model
