// Discriminator loss (DESIGN.md section 1, stage 1 and step 4), GAIL-style binary
// cross-entropy: student responses have label 1, teacher responses label 0, on the
// discriminator's pre-sigmoid logits (Qwen2Discriminator::forward), computed with
// binary_cross_entropy_with_logits (stable for large |logit|), mean over responses.
// Accuracy at 0.5: a response is predicted "student" when sigmoid(logit) >= 0.5 (logit >= 0),
// matching the reward's 1[D(o) < 0.5] = "teacher-like".
// Called by the discriminator ranks; pure tensor math, any device.
#pragma once

#include <torch/torch.h>

namespace ril::algo {

// Scalars: 0-dim tensors, float32 (float64 for float64 logits).
struct DiscriminatorLossResult {
  torch::Tensor loss;              // mean BCE, differentiable w.r.t. the logits
  torch::Tensor accuracy;          // detached share of correct predictions at 0.5
  torch::Tensor student_accuracy;  // detached, over student responses (0 if none)
  torch::Tensor teacher_accuracy;  // detached, over teacher responses (0 if none)
  torch::Tensor mean_student_prob; // detached mean sigmoid(logit) over student responses (0 if none)
  torch::Tensor mean_teacher_prob; // detached mean sigmoid(logit) over teacher responses (0 if none)
};

// logits [N] floating; is_student [N] bool or 0/1 numbers (1 = student response).
DiscriminatorLossResult discriminator_loss(const torch::Tensor& logits,
                                           const torch::Tensor& is_student);

}  // namespace ril::algo
