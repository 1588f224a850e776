#include "ril/model/attention.h"

#include <cmath>

#include <torch/version.h>

namespace ril::model {

torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& mask) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  // scores [B, H, T, S]
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  if (mask.defined()) {
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  }
  torch::Tensor probs = torch::softmax(scores.to(torch::kFloat32), -1).to(q.scalar_type());
  return torch::matmul(probs, v);  // [B, H, T, Dh]
}

torch::Tensor scaled_dot_product_attention(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v, const torch::Tensor& mask) {
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) {
    c10::optional<at::Tensor> m;
    if (mask.defined()) m = mask;
    return at::scaled_dot_product_attention(q, k, v, m, /*dropout_p=*/0.0, /*is_causal=*/false);
  }
#endif
  return naive_attention(q, k, v, mask);
}

torch::Tensor grouped_query_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& mask) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3);
  const int64_t hkv = k.size(1);
  TORCH_CHECK(h % hkv == 0, "grouped_query_attention: ", h, " query heads, ", hkv, " kv heads");
  const int64_t n_rep = h / hkv;
  if (n_rep == 1) return scaled_dot_product_attention(q, k, v, mask);
  // [B, H, T, Dh] -> [B, Hkv, n_rep * T, Dh] (a view when q is contiguous)
  torch::Tensor qg = q.reshape({b, hkv, n_rep * t, d});
  torch::Tensor mg;
  if (mask.defined()) {
    const int64_t mb = mask.size(0), s = mask.size(3);
    mg = mask.unsqueeze(2).expand({mb, 1, n_rep, t, s}).reshape({mb, 1, n_rep * t, s});
  }
  return scaled_dot_product_attention(qg, k, v, mg).reshape({b, h, t, d});
}

torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const auto b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, h, n_rep, s, d}).reshape({b, h * n_rep, s, d});
}

}  // namespace ril::model
