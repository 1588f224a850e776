#include "ril/algo/advantages.h"

#include "tensor_checks.h"

namespace ril::algo {

torch::Tensor group_advantages(const torch::Tensor& rewards, int64_t group_size) {
  TORCH_CHECK(rewards.dim() == 1, "group_advantages: rewards must be [N], got ", rewards.sizes());
  TORCH_CHECK(group_size >= 1, "group_advantages: group_size must be >= 1, got ", group_size);
  TORCH_CHECK(rewards.size(0) % group_size == 0, "group_advantages: ", rewards.size(0),
              " rewards are not a whole number of groups of ", group_size);
  const auto r = rewards.detach().to(detail::compute_dtype(rewards));
  // [K, G] -> per-group mean [K, 1]
  const auto grouped = r.view({-1, group_size});
  return (grouped - grouped.mean(/*dim=*/1, /*keepdim=*/true)).reshape({-1});
}

torch::Tensor group_advantages(const torch::Tensor& rewards, const torch::Tensor& group_index) {
  TORCH_CHECK(rewards.dim() == 1, "group_advantages: rewards must be [N], got ", rewards.sizes());
  TORCH_CHECK(group_index.dim() == 1 && group_index.size(0) == rewards.size(0),
              "group_advantages: group_index must be [N] = [", rewards.size(0), "], got ",
              group_index.sizes());
  TORCH_CHECK(!group_index.is_floating_point() && group_index.scalar_type() != torch::kBool,
              "group_advantages: group_index must be an integer tensor, got ",
              group_index.scalar_type());
  const auto r = rewards.detach().to(detail::compute_dtype(rewards));
  if (r.numel() == 0) return r.clone();
  const auto idx = group_index.to(r.device(), torch::kInt64);
  // One host sync for the bounds check and the number of groups.
  const int64_t lo = idx.min().item<int64_t>();
  TORCH_CHECK(lo >= 0, "group_advantages: negative group index ", lo);
  const int64_t num_groups = idx.max().item<int64_t>() + 1;
  // [K] sums and counts per group, then the mean gathered back to [N].
  const auto sums = torch::zeros({num_groups}, r.options()).index_add_(0, idx, r);
  const auto counts = torch::zeros({num_groups}, r.options()).index_add_(0, idx, torch::ones_like(r));
  const auto means = sums / counts.clamp_min(1);
  return r - means.index_select(0, idx);
}

torch::Tensor student_baseline_advantages(const torch::Tensor& rewards, const torch::Tensor& group_index,
                                          const torch::Tensor& is_student) {
  TORCH_CHECK(rewards.dim() == 1, "student_baseline_advantages: rewards must be [N], got ", rewards.sizes());
  TORCH_CHECK(group_index.dim() == 1 && group_index.size(0) == rewards.size(0),
              "student_baseline_advantages: group_index must be [N] = [", rewards.size(0), "], got ",
              group_index.sizes());
  TORCH_CHECK(is_student.dim() == 1 && is_student.size(0) == rewards.size(0) &&
                  is_student.scalar_type() == torch::kBool,
              "student_baseline_advantages: is_student must be bool [N] = [", rewards.size(0), "], got ",
              is_student.scalar_type(), " ", is_student.sizes());
  const auto r = rewards.detach().to(detail::compute_dtype(rewards));
  if (r.numel() == 0) return r.clone();
  const auto idx = group_index.to(r.device(), torch::kInt64);
  TORCH_CHECK(idx.min().item<int64_t>() >= 0, "student_baseline_advantages: negative group index");
  const int64_t num_groups = idx.max().item<int64_t>() + 1;
  const auto student = is_student.to(r.device()).to(r.scalar_type());
  const auto sums = torch::zeros({num_groups}, r.options()).index_add_(0, idx, r * student);
  const auto counts = torch::zeros({num_groups}, r.options()).index_add_(0, idx, student);
  const auto baseline = (sums / counts.clamp_min(1)).index_select(0, idx);
  const auto a = r - baseline;
  return torch::where(is_student.to(r.device()), a, a.clamp_min(0));
}

}  // namespace ril::algo
