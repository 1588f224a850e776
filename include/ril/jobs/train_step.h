// The RIL step driver: one step of DESIGN.md section 1, stage 2, on every rank, top-down. It owns
// ALL traffic between the rank groups; the role components (roles/) compute and talk only
// inside their own group (a data-parallel gradient allreduce, gathering their own share).
//
//   every rank     the step's question ids from a stateless sampler of (seed, step): questions
//                  are never sent, only results
//   rollout        G student responses per question of its share        (roles/rollout_worker.h)
//   teacher        G cached teacher responses per question of its share (roles/teacher.h)
//   -> both lists to the discriminator root and the learner root (kRollouts, kTeacherResponses:
//      one message per rank each), and from each root to every member of its group
//   discriminator  one BCE update (mu = 1), then D(o) of all 2G responses (roles/discriminator_trainer.h)
//   -> scores and D's statistics to the learner root (kScores), then to every learner
//   (--judge) both lists also to the judge root (kRollouts, kTeacherResponses)
//   judge          a verdict for each of the 2G responses, cached for teacher responses
//                  (roles/judge_worker.h)
//   -> verdicts to the learner root (kVerdicts), then to every learner
//   learner        rewards, Dr.GRPO advantages, clipped-ratio loss + k3 KL, AdamW (roles/learner.h)
//   -> new student weights to every rollout and discriminator rank (kWeights, WeightSync,
//      version = updates + 1)
//   -> before that, one world agreement: a learner or D that cannot go on (non-finite parameters
//      after its update, too many non-finite losses) ends the job on every rank with its message
// --max-staleness 1 (overlap; the layout gives the rollout role ranks that hold no learner role,
// checked in train_role_map): a rollout rank sends step t's responses (sampled during step t-1),
// then samples step t+1's with the weights it holds (version t, one update behind) while D and
// the learner work on step t, and only then joins the world agreement and the weight sync of
// version t+2. Every student response carries its weight version and the behaviour log-probs;
// the learner takes its ratio against them, and D's and the learner's roots drop (never use) a
// student response more than --max-staleness versions old. A run's first step (also the first
// step after a resume: the checkpoint holds no rollouts in flight) is sampled in lockstep.
// --stage disc runs the same exchange with the student frozen (no weights move); --no-discriminator
// leaves out the teachers and D. All host messages travel over host communicators (MPI or local).
// On CPU the result does not depend on the number of ranks when the discriminator and learner
// groups have one rank each; data-parallel groups sum gradients in another order (float noise).
// Which ranks call: every rank, every step (collective over the world).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"
#include "ril/dist/weight_sync.h"
#include "ril/jobs/train_inputs.h"
#include "ril/roles/discriminator_trainer.h"
#include "ril/roles/judge_worker.h"
#include "ril/roles/learner.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/rollout_worker.h"
#include "ril/roles/sft_batch.h"
#include "ril/roles/teacher.h"

namespace ril::jobs {

// This rank's components: null where the rank does not hold the role (or the run does not use
// it). The rollout worker, D (for its mirror init) and the learner share the rank's one student.
struct TrainRoles {
  std::shared_ptr<roles::PolicyModel> student;
  std::unique_ptr<roles::Teacher> teacher;
  std::unique_ptr<roles::RolloutWorker> rollout;
  std::unique_ptr<roles::DiscriminatorTrainer> discriminator;
  std::unique_ptr<roles::Learner> learner;
  std::unique_ptr<roles::JudgeWorker> judge;
};

// Builds the components of this rank's roles (loads models, reads the teacher cache).
// `checkpoint_dir` is named when too many non-finite steps end the run.
TrainRoles make_train_roles(const dist::RankGroups& groups, const Config& config, const TrainInputs& in,
                            const std::string& checkpoint_dir);

// Seconds a rank spent in each role during one step.
struct StepTimes {
  double teacher = 0, rollout = 0, disc = 0, learner = 0, judge = 0;
  double wait_rollouts = 0;  // learner ranks: seconds in the delivery of the step's responses
};

// What one step measured on this rank.
struct StepReport {
  roles::LearnerStats learner;        // learner ranks (the rewards on the learner root)
  roles::DiscriminatorResult disc;    // learner ranks and the discriminator root
  roles::JudgeResult judge;           // learner ranks and the judge root (--judge)
  std::optional<double> val_acc;      // learner ranks, on --val-every steps
  double staleness = 0;               // learner ranks (ril stage): mean weight-version lag of the student responses used
  int64_t stale_dropped = 0;          // learner root: student responses dropped as older than --max-staleness
  StepTimes times;
};

class TrainStep {
 public:
  // Keeps references to all arguments.
  TrainStep(const dist::RankGroups& groups, TrainRoles& roles, const TrainInputs& in, const TrainConfig& t,
            uint64_t seed);

  // Rollout and discriminator ranks receive the learner root's student weights as `version`.
  void sync_weights(int64_t version);
  // Step `step` (0-based: `step` updates are done before it).
  StepReport run(int64_t step);

 private:
  roles::Responses students(int64_t step, const std::vector<int64_t>& questions, StepTimes& times);
  roles::Responses rollouts_of(int64_t step, const std::vector<int64_t>& questions, StepTimes& times);
  roles::Responses teachers(int64_t step, const std::vector<int64_t>& questions, StepTimes& times);
  roles::Responses deliver(dist::Role receiver, const roles::Responses& students, const roles::Responses& teachers);
  roles::Responses collect(dist::Role receiver, const roles::Responses& students, const roles::Responses& teachers);
  roles::Responses gather_to(dist::Channel channel, dist::Role receiver, const roles::Responses& mine);
  roles::DiscriminatorResult discriminate(int64_t step, const std::vector<int64_t>& questions,
                                          const roles::Responses& responses, StepTimes& times);
  roles::DiscriminatorResult deliver_scores(roles::DiscriminatorResult result);
  roles::JudgeResult judge(int64_t step, const roles::Responses& responses, StepTimes& times);
  roles::JudgeResult deliver_verdicts(roles::JudgeResult result);
  std::optional<double> validate(int64_t updates);

  const dist::RankGroups& groups_;
  TrainRoles& roles_;
  const TrainInputs& in_;
  const TrainConfig& t_;
  roles::SftSampler sampler_;
  std::unique_ptr<dist::WeightSync> weight_sync_;
  // --max-staleness 1 on rollout ranks: the next step's responses, sampled during this step.
  std::optional<roles::Responses> ahead_;
  int64_t ahead_step_ = -1;
  int64_t step_ = 0;            // the step run() is in (the staleness reference)
  int64_t stale_dropped_ = 0;   // this step's drops on this rank
};

}  // namespace ril::jobs
