// `ril train`: Stage 1 (--stage disc, discriminator pre-training) and Stage 2 (--stage ril, the
// RIL loop), DESIGN.md section 1, over the four rank groups of section 2.
//
// Where things are:
//   jobs/train_inputs.h    the inputs, checked alike on every rank; stage, resume mode, ablations
//   jobs/train_step.h      the step driver: one step top-down, all traffic between rank groups
//   roles/teacher.h, roles/rollout_worker.h, roles/discriminator_trainer.h, roles/learner.h
//                          the four roles, each with its model, optimizer and state
//   jobs/train_metrics.h   the metrics row (one declaration of its columns), progress line, warnings
//   jobs/train_state.h     checkpoints and resume
// The loop (this file's run_train_job): check inputs; build this rank's roles; resume; send the
// learner's weights to the rollout and discriminator ranks; per step: the step driver, one world
// allreduce (the slowest rank's time per role, the learners' tokens, any stop signal), the
// metrics row and progress line on the learner root, a checkpoint every --checkpoint-every
// steps; on SIGTERM/SIGUSR1 every rank stops after the same step with a checkpoint ("stopped by
// signal N at step S; checkpoint written: PATH; resume with the same command", exit 0); at the end
// a checkpoint, the student (ril stage; <run-dir>/model or --out) and the discriminator
// (<run-dir>/discriminator, or --out in the disc stage), each with the tokenizer beside it.
//
// Stage disc runs the same exchange with the SFT student frozen, D's lr decaying --pretrain-lr
// -> --pretrain-lr-end. Ablations: --no-discriminator (plain Dr.GRPO: student responses only,
// answer reward only), --frozen-discriminator, --no-answer-reward, --teachers NAME (a subset).
// Non-finite losses: the update is skipped and counted (bad_steps); more than --max-bad-steps
// abort the job. Fault injection for tests: RIL_FAULT_NAN_STEPS=3,4 makes the learner's loss NaN
// at those steps.
// Which ranks call: every rank.
#pragma once

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"

namespace ril::jobs {

void run_train_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::jobs
