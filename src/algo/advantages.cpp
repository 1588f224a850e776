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

namespace {

// The mean of r over each response's group, counting only rows where `weight` is 1 (weight
// undefined: every row), gathered back to [N]; a group with no counted row has mean 0. Checks
// group_index on the way (`who` names the caller in errors).
torch::Tensor group_means(const char* who, const torch::Tensor& r, const torch::Tensor& group_index,
                          const torch::Tensor& weight) {
  TORCH_CHECK(group_index.dim() == 1 && group_index.size(0) == r.size(0), who, ": group_index must be [N] = [",
              r.size(0), "], got ", group_index.sizes());
  TORCH_CHECK(!group_index.is_floating_point() && group_index.scalar_type() != torch::kBool, who,
              ": group_index must be an integer tensor, got ", group_index.scalar_type());
  const auto idx = group_index.to(r.device(), torch::kInt64);
  // One host sync for the bounds check and the number of groups.
  const int64_t lo = idx.min().item<int64_t>();
  TORCH_CHECK(lo >= 0, who, ": negative group index ", lo);
  const int64_t num_groups = idx.max().item<int64_t>() + 1;
  const auto w = weight.defined() ? weight : torch::ones_like(r);
  // [K] sums and counts per group, then the mean gathered back to [N].
  const auto sums = torch::zeros({num_groups}, r.options()).index_add_(0, idx, r * w);
  const auto counts = torch::zeros({num_groups}, r.options()).index_add_(0, idx, w);
  return (sums / counts.clamp_min(1)).index_select(0, idx);
}

}  // namespace

torch::Tensor group_advantages(const torch::Tensor& rewards, const torch::Tensor& group_index) {
  TORCH_CHECK(rewards.dim() == 1, "group_advantages: rewards must be [N], got ", rewards.sizes());
  const auto r = rewards.detach().to(detail::compute_dtype(rewards));
  if (r.numel() == 0) return r.clone();
  return r - group_means("group_advantages", r, group_index, {});
}

torch::Tensor student_baseline_advantages(const torch::Tensor& rewards, const torch::Tensor& group_index,
                                          const torch::Tensor& is_student) {
  TORCH_CHECK(rewards.dim() == 1, "student_baseline_advantages: rewards must be [N], got ", rewards.sizes());
  TORCH_CHECK(is_student.dim() == 1 && is_student.size(0) == rewards.size(0) &&
                  is_student.scalar_type() == torch::kBool,
              "student_baseline_advantages: is_student must be bool [N] = [", rewards.size(0), "], got ",
              is_student.scalar_type(), " ", is_student.sizes());
  const auto r = rewards.detach().to(detail::compute_dtype(rewards));
  if (r.numel() == 0) return r.clone();
  const auto student = is_student.to(r.device());
  const auto a = r - group_means("student_baseline_advantages", r, group_index, student.to(r.scalar_type()));
  return torch::where(student, a, a.clamp_min(0));
}

torch::Tensor scale_teacher_advantages(const torch::Tensor& advantages, const torch::Tensor& is_student,
                                       const torch::Tensor& tokens, double weight, bool per_response) {
  TORCH_CHECK(advantages.dim() == 1 && advantages.is_floating_point(),
              "scale_teacher_advantages: advantages must be floating [N], got ", advantages.sizes());
  const int64_t n = advantages.size(0);
  TORCH_CHECK(is_student.dim() == 1 && is_student.size(0) == n && is_student.scalar_type() == torch::kBool,
              "scale_teacher_advantages: is_student must be bool [N] = [", n, "]");
  TORCH_CHECK(weight >= 0, "scale_teacher_advantages: weight must be >= 0, got ", weight);
  auto teacher_scale = torch::full({n}, weight, advantages.options());
  if (per_response) {
    TORCH_CHECK(tokens.dim() == 1 && tokens.size(0) == n, "scale_teacher_advantages: tokens must be [N] = [", n, "]");
    teacher_scale = teacher_scale / tokens.to(advantages.options()).clamp_min(1);
  }
  return torch::where(is_student.to(advantages.device()), advantages, advantages * teacher_scale);
}

torch::Tensor answer_teacher_advantages(const torch::Tensor& advantages, const torch::Tensor& is_student,
                                        const torch::Tensor& answer) {
  TORCH_CHECK(advantages.dim() == 1 && advantages.is_floating_point(),
              "answer_teacher_advantages: advantages must be floating [N], got ", advantages.sizes());
  const int64_t n = advantages.size(0);
  TORCH_CHECK(is_student.dim() == 1 && is_student.size(0) == n && is_student.scalar_type() == torch::kBool,
              "answer_teacher_advantages: is_student must be bool [N] = [", n, "]");
  TORCH_CHECK(answer.dim() == 1 && answer.size(0) == n, "answer_teacher_advantages: answer must be [N] = [", n, "]");
  return torch::where(is_student.to(advantages.device()), advantages,
                      answer.to(advantages.device(), advantages.scalar_type()));
}

}  // namespace ril::algo
