#include "ril/algo/discriminator_loss.h"

#include "tensor_checks.h"

namespace ril::algo {

DiscriminatorLossResult discriminator_loss(const torch::Tensor& logits, const torch::Tensor& is_student,
                                           const DiscriminatorLossOptions& options) {
  TORCH_CHECK(logits.defined() && logits.dim() == 1 && logits.is_floating_point(),
              "discriminator_loss: logits must be a floating [N] tensor");
  TORCH_CHECK(is_student.defined() && is_student.dim() == 1 &&
                  is_student.size(0) == logits.size(0),
              "discriminator_loss: is_student must be [N] = [", logits.size(0), "], got ",
              is_student.defined() ? is_student.sizes() : at::IntArrayRef{});
  TORCH_CHECK(logits.size(0) > 0, "discriminator_loss: no responses");
  TORCH_CHECK(options.normaliser >= 0, "discriminator_loss: normaliser must be >= 0, got ", options.normaliser);
  const auto dtype = detail::compute_dtype(logits);
  const auto x = logits.to(dtype);                                                 // [N]
  const auto student = detail::as_bool(is_student.to(logits.device()));            // [N]
  const auto y = student.to(dtype);                                                // [N] labels

  DiscriminatorLossResult out;
  if (options.normaliser > 0) {
    const auto sum = torch::binary_cross_entropy_with_logits(x, y, {}, {}, at::Reduction::Sum);
    out.loss = sum / options.normaliser;
    out.loss_sum = sum.detach();
  } else {
    out.loss = torch::binary_cross_entropy_with_logits(x, y);  // mean reduction
  }
  torch::NoGradGuard no_grad;
  const auto xd = x.detach();
  if (!out.loss_sum.defined()) {
    out.loss_sum = torch::binary_cross_entropy_with_logits(xd, y, {}, {}, at::Reduction::Sum);
  }
  const auto pred_student = xd.ge(0);  // sigmoid(x) >= 0.5
  const auto correct = pred_student.eq(student).to(dtype);
  const auto sf = student.to(dtype);
  const auto tf = student.logical_not().to(dtype);
  const auto prob = torch::sigmoid(xd);
  out.students = sf.sum();
  out.teachers = tf.sum();
  out.student_correct = (correct * sf).sum();
  out.teacher_correct = (correct * tf).sum();
  out.student_prob_sum = (prob * sf).sum();
  out.teacher_prob_sum = (prob * tf).sum();
  out.accuracy = correct.mean();
  out.student_accuracy = out.student_correct / out.students.clamp_min(1);
  out.teacher_accuracy = out.teacher_correct / out.teachers.clamp_min(1);
  out.mean_student_prob = out.student_prob_sum / out.students.clamp_min(1);
  out.mean_teacher_prob = out.teacher_prob_sum / out.teachers.clamp_min(1);
  return out;
}

}  // namespace ril::algo
