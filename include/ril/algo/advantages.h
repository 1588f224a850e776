// Dr.GRPO group advantages (DESIGN.md section 1, step 6):
//   A_i = R_i - mean_{j in group(i)} R_j
// over each question's group of 2G responses (G student + G teacher). No division by the
// group's std (Dr.GRPO drops that bias), so a group with equal rewards gets A = 0 throughout
// and every group's advantages sum to zero.
// Called by the learner after compute_rewards(); pure tensor math, any device.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace ril::algo {

// rewards [N] (N a multiple of group_size), groups stored contiguously: responses
// [k*group_size, (k+1)*group_size) belong to question k. Returns [N] float32 (float64 for
// float64 rewards).
torch::Tensor group_advantages(const torch::Tensor& rewards, int64_t group_size);

// rewards [N]; group_index [N] integer, element i = the group (question) of response i, any
// order, values in [0, num_groups) (num_groups = max + 1; unused ids are allowed). Groups may
// differ in size. Returns [N] float32 (float64 for float64 rewards).
torch::Tensor group_advantages(const torch::Tensor& rewards, const torch::Tensor& group_index);

// The student-baseline variant (--advantage student-baseline; a departure from the paper's
// step 6, see DESIGN.md): the baseline of each group is the mean reward of its *student*
// responses only, and a teacher response's advantage is clipped at 0 from below:
//   student i: A_i = R_i - mean_{j student, group(i)} R_j
//   teacher i: A_i = max(0, R_i - mean_{j student, group(i)} R_j)
// Why: with the 2G mean, strong teachers lift the baseline so that nearly every student sample
// gets A < 0, and a teacher the discriminator takes for a student gets A < 0 too; pushing
// probability away from text the student itself writes raised its entropy steadily (1.3 -> 6
// nats in 150 steps on the default job) and cost accuracy. Here the student's own samples are
// compared among themselves (plain Dr.GRPO), and teacher text is only ever imitated, in
// proportion to how far it beats the student's average. is_student [N] bool; a group without
// student responses has baseline 0.
torch::Tensor student_baseline_advantages(const torch::Tensor& rewards, const torch::Tensor& group_index,
                                          const torch::Tensor& is_student);

// Imitation strength (--imitation-weight W, --imitation-per-response; a departure from the
// paper's single loss, see bench/learning-diagnostics.md section 6): every teacher row's
// advantage is multiplied by W, and with per_response also divided by its token count, so that
// each teacher response weighs the same in the token-sum loss whatever its length:
//   student i: A_i unchanged;  teacher i: A_i * W (/ tokens_i with per_response)
// Why: with Adam the update's direction is what counts, and a long-winded teacher's tokens
// dominate it: continued SFT on both teachers' responses with a token mean gained nothing on
// val (-0.7), with a mean per response +4.3 to +8.0, on teacher A alone +19.7 (section 6).
// advantages [N] floating; is_student [N] bool; tokens [N] the rows' training token counts (>= 1
// where used). Returns [N] of the advantages' dtype.
torch::Tensor scale_teacher_advantages(const torch::Tensor& advantages, const torch::Tensor& is_student,
                                       const torch::Tensor& tokens, double weight, bool per_response);

// Teacher rows imitated by their answer alone (--teacher-advantage answer; a departure from the
// paper, see bench/learning-diagnostics.md section 8): a teacher response's advantage is its
// answer reward (1 right, 0 wrong), whatever D says of it; student rows keep theirs:
//   student i: A_i unchanged;  teacher i: A_i = answer_i
// Why: once the student writes the teachers' styles, D sits near 0.5 and the D part of a teacher
// row's reward is noise, so imitation nearly vanished: from a warm-up on both styles, RIL gained
// +1.0 on val where SFT on the same teacher responses gained +8.7; with this rule RIL gained +8.7.
// advantages [N] floating; is_student [N] bool; answer [N] (0/1, any dtype). Returns [N] of the
// advantages' dtype.
torch::Tensor answer_teacher_advantages(const torch::Tensor& advantages, const torch::Tensor& is_student,
                                        const torch::Tensor& answer);

}  // namespace ril::algo
