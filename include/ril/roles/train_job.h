// `ril train`: Stage 1 (--stage disc, discriminator pre-training) and Stage 2 (--stage ril, the
// RIL loop), DESIGN.md section 1, over the four rank groups of section 2.
//
// One step (every rank draws the same question ids from a stateless sampler of (seed, step)):
//  1. rollout ranks: question j of the step goes to rollout rank j mod R, which samples G
//     responses with the current student weights (one generate call per question, seeded by
//     (seed, step, question): the result does not depend on the number of ranks);
//  2. teacher ranks: question j -> teacher rank j mod T, which picks G cached responses, spread
//     over the selected teachers (sample s from teacher s mod K), drawn by (seed, step, question);
//  3. both lists are gathered (kRollouts / kTeacherResponses channels) to the discriminator root
//     and to the learner root, each as one packed buffer per rank (response_wire.h);
//  4. discriminator group (data-parallel by question): one BCE update (mu = 1; student = 1,
//     teacher = 0) unless frozen, then D scores all 2G responses with the updated weights; the
//     scores and D's metrics go to the learner root (kScores);
//  5. learner group (data-parallel by question): R = 1[D < 0.5] + answer check, Dr.GRPO
//     advantages over each question's 2G responses, clipped-ratio loss with the k3 KL to the
//     frozen reference, token sums / (max_new_tokens * 2G * questions), gradients summed over
//     the learner group, grad-norm clip, AdamW;
//  6. the new student weights go to every rollout and discriminator rank (WeightSync, version =
//     updates + 1); one world allreduce carries the per-group times and any stop signal.
// pi_old: with one policy update per batch (mu = 1) pi_old equals pi_theta when the loss is
// taken, so logp_old = logp.detach() (ratio 1, clip inactive) and no extra forward pass is run.
//
// Stage disc runs steps 1-4 with the SFT student frozen, lr decaying --pretrain-lr ->
// --pretrain-lr-end, and writes the discriminator to <run-dir>/discriminator (HF-style dir).
// Ablations: --no-discriminator (plain Dr.GRPO: student responses only, answer reward only),
// --frozen-discriminator, --no-answer-reward, --teachers NAME (a subset of the cache's).
//
// Checkpoints (io/checkpoint_store.h) every --checkpoint-every steps, at the end, and when
// SIGTERM/SIGUSR1 arrives (all ranks agree on the step): the learner root writes the main file
// (student + AdamW, step, resolved config, root attributes student_config / student_tokenizer /
// stage), every rank its part (its CPU generator; the discriminator root also D + AdamW). Resume:
// --resume auto picks the newest complete checkpoint of <run-dir> (a damaged one is reported and
// skipped), PATH a given one, no refuses a run dir that has checkpoints. On CPU a resumed run is
// bitwise identical to an uninterrupted one.
//
// Metrics: one row per step in <run-dir>/metrics.h5 + metrics.csv (io/metrics_table.h) and a
// progress line (step/total, rewards, D accuracy, KL, lengths, tokens/s, per-group time, ETA).
// Non-finite losses: the update is skipped and counted; more than --max-bad-steps abort the job.
// Fault injection for tests: RIL_FAULT_NAN_STEPS=3,4 makes the learner's loss NaN at those steps.
#pragma once

#include <cstdint>
#include <string>

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"

namespace ril::roles {

// Seed of the generator for question `question` at `step` (rollouts) or for the teacher picks.
uint64_t step_question_seed(uint64_t seed, int64_t step, int64_t question, uint64_t stream);

void run_train_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::roles
