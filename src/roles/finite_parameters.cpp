#include "ril/roles/finite_parameters.h"

#include <torch/torch.h>

namespace ril::roles {

std::string first_non_finite(const io::NamedTensors& params) {
  if (params.empty()) return "";
  // One flag per tensor, read back once (one device sync, not one per tensor).
  std::vector<torch::Tensor> finite;
  finite.reserve(params.size());
  torch::NoGradGuard no_grad;
  for (const auto& [name, p] : params) finite.push_back(torch::isfinite(p).all().reshape({1}));
  const torch::Tensor bad = torch::cat(finite).logical_not().nonzero().to(torch::kCPU);
  if (bad.numel() == 0) return "";
  return params[static_cast<size_t>(bad[0][0].item<int64_t>())].first;
}

}  // namespace ril::roles
