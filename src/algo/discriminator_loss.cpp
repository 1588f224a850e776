#include "ril/algo/discriminator_loss.h"

#include "tensor_checks.h"

namespace ril::algo {

DiscriminatorLossResult discriminator_loss(const torch::Tensor& logits,
                                           const torch::Tensor& is_student) {
  TORCH_CHECK(logits.defined() && logits.dim() == 1 && logits.is_floating_point(),
              "discriminator_loss: logits must be a floating [N] tensor");
  TORCH_CHECK(is_student.defined() && is_student.dim() == 1 &&
                  is_student.size(0) == logits.size(0),
              "discriminator_loss: is_student must be [N] = [", logits.size(0), "], got ",
              is_student.defined() ? is_student.sizes() : at::IntArrayRef{});
  TORCH_CHECK(logits.size(0) > 0, "discriminator_loss: no responses");
  const auto dtype = detail::compute_dtype(logits);
  const auto x = logits.to(dtype);                                                 // [N]
  const auto student = detail::as_bool(is_student.to(logits.device()));            // [N]
  const auto y = student.to(dtype);                                                // [N] labels

  DiscriminatorLossResult out;
  out.loss = torch::binary_cross_entropy_with_logits(x, y);  // mean reduction
  {
    torch::NoGradGuard no_grad;
    const auto xd = x.detach();
    const auto pred_student = xd.ge(0);  // sigmoid(x) >= 0.5
    const auto correct = pred_student.eq(student).to(dtype);
    const auto teacher = student.logical_not();
    const auto sf = student.to(dtype);
    const auto tf = teacher.to(dtype);
    const auto prob = torch::sigmoid(xd);
    out.accuracy = correct.mean();
    out.student_accuracy = (correct * sf).sum() / sf.sum().clamp_min(1);
    out.teacher_accuracy = (correct * tf).sum() / tf.sum().clamp_min(1);
    out.mean_student_prob = (prob * sf).sum() / sf.sum().clamp_min(1);
    out.mean_teacher_prob = (prob * tf).sum() / tf.sum().clamp_min(1);
  }
  return out;
}

}  // namespace ril::algo
