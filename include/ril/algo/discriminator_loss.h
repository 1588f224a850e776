// Discriminator loss (DESIGN.md section 1, stage 1 and step 4), GAIL-style binary
// cross-entropy: student responses have label 1, teacher responses label 0, on the
// discriminator's pre-sigmoid logits (Qwen2Discriminator::forward), computed with
// binary_cross_entropy_with_logits (stable for large |logit|).
// Reduction: the mean over the N responses by default; with options.normaliser = M > 0 the sum
// divided by M. A data-parallel discriminator group passes M = the responses of ALL its ranks,
// so that the gradients summed over the group are those of the mean over the whole step.
// Accuracy at 0.5: a response is predicted "student" when sigmoid(logit) >= 0.5 (logit >= 0),
// matching the reward's 1[D(o) < 0.5] = "teacher-like".
// Called by the discriminator ranks; pure tensor math, any device.
#pragma once

#include <torch/torch.h>

namespace ril::algo {

struct DiscriminatorLossOptions {
  double normaliser = 0.0;  // > 0: loss = sum of the N BCE terms / normaliser; 0: their mean
};

// Scalars: 0-dim tensors, float32 (float64 for float64 logits). Everything but `loss` is
// detached. The sums serve data-parallel groups, which add them up over their ranks.
struct DiscriminatorLossResult {
  torch::Tensor loss;              // reduced BCE (see above), differentiable w.r.t. the logits
  torch::Tensor accuracy;          // share of correct predictions at 0.5
  torch::Tensor student_accuracy;  // over student responses (0 if none)
  torch::Tensor teacher_accuracy;  // over teacher responses (0 if none)
  torch::Tensor mean_student_prob; // mean sigmoid(logit) over student responses (0 if none)
  torch::Tensor mean_teacher_prob; // mean sigmoid(logit) over teacher responses (0 if none)
  torch::Tensor loss_sum;          // sum of the N BCE terms
  torch::Tensor students, teachers;                  // responses of each kind
  torch::Tensor student_correct, teacher_correct;    // correct predictions of each kind
  torch::Tensor student_prob_sum, teacher_prob_sum;  // sum of sigmoid(logit) of each kind
};

// logits [N] floating, N >= 1; is_student [N] bool or 0/1 numbers (1 = student response).
DiscriminatorLossResult discriminator_loss(const torch::Tensor& logits, const torch::Tensor& is_student,
                                           const DiscriminatorLossOptions& options = {});

}  // namespace ril::algo
