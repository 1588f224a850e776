#include "ril/model/sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <limits>

#include "ril/common/error.h"

namespace ril::model {

void SamplingOptions::validate() const {
  RIL_CONFIG_CHECK(temperature > 0, "sampling: temperature must be > 0, got ", temperature,
                   " (use do_sample=false for greedy)");
  RIL_CONFIG_CHECK(top_k >= 0, "sampling: top_k must be >= 0, got ", top_k);
  RIL_CONFIG_CHECK(top_p > 0 && top_p <= 1, "sampling: top_p must be in (0, 1], got ", top_p);
  RIL_CONFIG_CHECK(repetition_penalty > 0, "sampling: repetition_penalty must be > 0, got ",
                   repetition_penalty);
}

torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const torch::Tensor& presence,
                                       double penalty) {
  if (penalty == 1.0 || !presence.defined()) return logits;
  TORCH_CHECK(presence.sizes() == logits.sizes(), "repetition penalty: presence ",
              presence.sizes(), " != logits ", logits.sizes());
  torch::Tensor penalised = torch::where(logits < 0, logits * penalty, logits / penalty);
  return torch::where(presence, penalised, logits);
}

torch::Tensor top_k_filter(const torch::Tensor& logits, int64_t k) {
  if (k <= 0 || k >= logits.size(-1)) return logits;
  // kth [B, 1]: the k-th largest logit per row
  torch::Tensor kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);
  return logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
}

torch::Tensor top_p_filter(const torch::Tensor& logits, double top_p) {
  if (top_p >= 1.0) return logits;
  auto [sorted, indices] = logits.sort(-1, /*descending=*/false);  // ascending, [B, V]
  torch::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
  torch::Tensor remove_sorted = cumulative <= (1.0 - top_p);
  remove_sorted.narrow(-1, logits.size(-1) - 1, 1).fill_(false);  // keep the top token
  torch::Tensor remove = remove_sorted.scatter(-1, indices, remove_sorted);
  return logits.masked_fill(remove, -std::numeric_limits<float>::infinity());
}

torch::Tensor process_logits(const torch::Tensor& logits, const torch::Tensor& presence,
                             const SamplingOptions& options) {
  TORCH_CHECK(logits.dim() == 2, "process_logits: logits must be [B, V], got ", logits.sizes());
  torch::Tensor x = logits.to(torch::kFloat32);
  x = apply_repetition_penalty(x, presence, options.repetition_penalty);
  if (!options.do_sample) return x;  // HF greedy: processors only, no warpers
  if (options.temperature != 1.0) x = x / options.temperature;
  x = top_k_filter(x, options.top_k);
  x = top_p_filter(x, options.top_p);
  return x;
}

at::Generator make_cpu_generator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

SamplingGenerators::SamplingGenerators(at::Generator shared) : generators_{std::move(shared)} {}

SamplingGenerators::SamplingGenerators(std::vector<at::Generator> per_row)
    : generators_(std::move(per_row)), per_row_(true) {
  RIL_CHECK(!generators_.empty(), "sampling: no per-row generators");
}

torch::Tensor SamplingGenerators::uniforms(int64_t rows) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  if (!per_row_) return torch::rand({rows, 1}, generators_[0], f64);
  RIL_CHECK(rows == static_cast<int64_t>(generators_.size()), "sampling: ", rows, " rows but ",
            generators_.size(), " per-row generators");
  torch::Tensor u = torch::empty({rows, 1}, f64);
  double* out = u.data_ptr<double>();
  for (int64_t i = 0; i < rows; ++i) {
    out[i] = torch::rand({1, 1}, generators_[static_cast<size_t>(i)], f64).item<double>();
  }
  return u;
}

Sampler::Sampler(const SamplingOptions& options, SamplingGenerators generators)
    : options_(options), generators_(std::move(generators)) {
  options_.validate();
}

torch::Tensor Sampler::select(const torch::Tensor& processed) {
  TORCH_CHECK(processed.dim() == 2, "Sampler: logits must be [B, V], got ", processed.sizes());
  if (!options_.do_sample) return processed.argmax(-1);
  const int64_t b = processed.size(0);
  torch::Tensor cdf = processed.softmax(-1).cumsum(-1);  // [B, V]
  // u in (0, 1]: 1 - U[0, 1). Token = number of cdf entries strictly below u * total, so the
  // chosen token has cdf_i >= x > cdf_{i-1}, i.e. probability > 0.
  torch::Tensor u = 1.0 - generators_.uniforms(b);
  torch::Tensor total = cdf.narrow(-1, cdf.size(-1) - 1, 1).to(torch::kFloat64).to(torch::kCPU);
  torch::Tensor x = (u * total).to(cdf.device()).to(torch::kFloat32);
  // float32 rounding of u * total could reach total: clamp to the last index
  torch::Tensor tokens = (cdf < x).sum(-1).clamp_max(processed.size(-1) - 1);
  return tokens.to(torch::kInt64);
}

}  // namespace ril::model
