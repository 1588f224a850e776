// The learner role (DESIGN.md section 2): the student, its frozen reference pi_ref (the SFT
// warm-up) and AdamW. Per step, on all 2G responses of every question and D's scores:
//   1. rewards R = 1[D(o) < 0.5] + answer check (algo/rewards.h; --no-discriminator and
//      --no-answer-reward switch a part off; --answer-reward judge|both takes the answer part from
//      the judge's verdicts, roles/judge_worker.h) and Dr.GRPO advantages over each question's 2G
//      responses (cheap: every learner rank computes all of them);
//   2. (ril stage) the clipped-ratio loss with the k3 KL to pi_ref on this rank's share
//      (question j belongs to rank j mod L), token sums / (budget * all responses), gradients
//      summed over the group, grad-norm clip, AdamW. A non-finite loss or gradient skips the
//      update; more than max_bad_steps of them, or a non-finite parameter after the update, make
//      failure() non-empty: the step driver ends the job on every rank before the weights move.
//      --accumulate K: a micro-batch is a contiguous chunk of this rank's questions (K chunks
//      whose question counts differ by at most one, rows of one question never split; empty
//      chunks when the rank owns fewer than K questions); each chunk runs forward and backward
//      on its own and the gradients add up before the one AdamW step. The Dr.GRPO normaliser
//      stays budget * (all responses of the step), so the sum of the chunks' losses is the loss
//      of the whole batch and the update equals K = 1 to float rounding; only the activations
//      of one chunk are alive at a time. The statistics count the whole step.
//      --shard optimizer|gradients: dist::ShardedAdamW replaces the allreduce + AdamW (each rank
//      updates its block of the flat parameter buffer with its block's moments, then the
//      parameters are all-gathered); checkpoints then hold one moment shard per learner rank
//      (roles/optimizer_shards.h) and resume at any learner count and either mode.
//      --offload optimizer|optimizer+model: after the update the AdamW moments (and pi_ref's
//      weights) go to a scratch file / pinned host memory and the gradients are released; they
//      come back before the next update or a checkpoint (roles/state_offload.h); bitwise the
//      same training.
// pi_old: with one policy update per batch (mu = 1) pi_old equals pi_theta when the loss is
// taken, so logp_old = logp.detach() (ratio 1, clip inactive) and no extra forward pass is run.
// Response tokens: a student response is trained on its sampled ids; a teacher response on its
// (budget-cut) text re-tokenized with the student's tokenizer (+ stop token when it finished).
// Which ranks call: learner ranks; step() and validation_accuracy() are collective over the
// learner group (gradients over its device communicator, statistics over its host one).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/data/answer_checker.h"
#include "ril/common/offload_mode.h"
#include "ril/common/shard_mode.h"
#include "ril/data/dataset.h"
#include "ril/dist/communicator.h"
#include "ril/dist/sharded_optimizer.h"
#include "ril/io/h5_file.h"
#include "ril/roles/discriminator_trainer.h"
#include "ril/algo/rewards.h"
#include "ril/roles/greedy_answerer.h"
#include "ril/roles/judge_worker.h"
#include "ril/roles/optimizer_shards.h"
#include "ril/roles/state_offload.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/response.h"
#include "ril/roles/sft_batch.h"

namespace ril::roles {

// The step's rewards, split by source (means over student / teacher responses; NaN where a
// source or a part is absent). Measured on the learner root.
struct RewardStats {
  double reward_student = std::nan(""), reward_teacher = std::nan("");
  double reward_disc_student = std::nan(""), reward_disc_teacher = std::nan("");
  double answer_acc_student = std::nan(""), answer_acc_teacher = std::nan("");
  double response_len_student = std::nan(""), response_len_teacher = std::nan("");  // tokens
  double limit_hit_student = std::nan(""), limit_hit_teacher = std::nan("");        // share cut at the budget
  // --answer-reward judge|both: the judge's share of "correct" verdicts, its unparsed (or cut)
  // verdicts of the step (a count, over all 2G responses per question), and (both) the share of
  // responses where the judge and the rule checker agree.
  double judge_acc_student = std::nan(""), judge_acc_teacher = std::nan("");
  double judge_unparsed = std::nan(""), judge_agreement = std::nan("");
};

// The policy update, over the whole group; NaN when no update was computed (disc stage).
struct PolicyStats {
  double policy_loss = std::nan(""), pg_term = std::nan("");
  double kl = std::nan(""), kl_student = std::nan(""), kl_teacher = std::nan("");  // mean k3 per token
  double entropy = std::nan("");  // mean token entropy of the policy on student tokens
  double tokens = 0;              // prompt + response tokens of the batch (throughput)
};

struct LearnerStats {
  RewardStats rewards;            // learner root only
  PolicyStats policy;             // every learner rank
  int64_t skipped_updates = 0;    // non-finite updates skipped so far in this run
};

struct LearnerOptions {
  bool train = true;               // false (disc stage): rewards are measured, nothing is updated
  bool use_discriminator = true;   // the D part of the reward (and D's scores are expected)
  bool use_teachers = true;        // teacher responses take part
  bool use_answer = true;          // the answer part of the reward
  algo::AnswerReward answer_reward = algo::AnswerReward::kRule;  // judge | both: step() gets verdicts
  bool student_baseline = false;   // --advantage student-baseline (algo/advantages.h)
  double imitation_weight = 1.0;   // --imitation-weight: teacher rows' advantages times this
  bool imitation_per_response = false;  // --imitation-per-response: a teacher row's advantage / its tokens
  bool teacher_answer_advantage = false;  // --teacher-advantage answer: a teacher row's advantage = its answer reward
  std::string reference_dir;       // pi_ref: the SFT warm-up (HF-layout dir)
  double lr = 1e-6;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;      // 0: no clipping
  int64_t accumulate = 1;          // micro-batches per update (chunks of this rank's questions)
  bool checkpoint_activations = false;  // the student's decoder layers (model/activation_checkpoint.h)
  ShardMode shard = ShardMode::kNone;    // --shard: who holds the AdamW state (common/shard_mode.h)
  OffloadMode offload = OffloadMode::kNone;  // --offload: what is put away between updates
  std::string offload_path;        // its scratch file (CPU)
  double clip_eps = 0.2;
  double beta = 0.01;
  int64_t budget = 64;             // --max-new-tokens
  int64_t max_bad_steps = 3;
  std::string checkpoint_dir;      // named when too many bad steps end the run
  std::set<int64_t> nan_steps;     // fault injection (tests): the loss is NaN at these steps (1-based)
  std::set<int64_t> inf_param_steps;  // fault injection (tests): a parameter is inf after these updates
  int64_t val_max_new_tokens = 64; // validation_accuracy's greedy budget
  // --max-staleness 1: the ratio's pi_old on student tokens is the behaviour policy's log-probs,
  // carried by each response (Response::logprobs); false (lockstep): pi_old = pi_theta before the
  // update (ratio 1, as mu = 1 makes it). Teacher tokens keep ratio 1 either way.
  bool behaviour_logprobs = false;
};

class Learner {
 public:
  // Keeps references to `tokenizer`, `dataset` and the communicators, and a share of `student`.
  Learner(std::shared_ptr<PolicyModel> student, const text::BpeTokenizer& tokenizer, const data::Dataset& dataset,
          const LearnerOptions& options, dist::Communicator& group, dist::Communicator& host_group);

  // One step on `responses` (all of the step, canonical order, on every member) of `questions`
  // (the step's, in order), with D's result (its scores are read when use_discriminator) and the
  // judge's verdicts (read when answer_reward is judge or both).
  LearnerStats step(int64_t step, const std::vector<int64_t>& questions, const Responses& responses,
                    const DiscriminatorResult& scored, const JudgeResult& judged = {});

  // Greedy accuracy of the current student on `questions`, scored as `ril eval` scores them
  // (eval batches of 16 dealt round-robin over the group); the same value on every member.
  double validation_accuracy(const std::vector<int64_t>& questions, at::Device device);

  // The student and its AdamW state in a checkpoint (checkpoint_schema.h names); loading is for
  // the ril stage only (the disc stage's student stays the SFT model).
  // save_state (learner root, main file): the student, and the AdamW state, or with --shard the
  // index of the shards (`learner_world_ranks`: the world rank of each learner rank, in order);
  // save_shard (every learner rank, its own part; nothing without --shard): its moment shard.
  // load_state (every learner rank): the student from the main file, and this rank's optimizer
  // state from whatever the checkpoint holds (whole or shards of any count; `part_path(w)`:
  // the rank part of world rank w of the writing job).
  void save_state(io::H5File& file, const std::vector<int>& learner_world_ranks);
  void save_shard(io::H5File& part);
  void load_state(const io::H5File& file, const std::function<std::string(int)>& part_path);

  // Why the run cannot go on after the last step ("" when it can): more than max_bad_steps
  // non-finite updates, or a non-finite parameter after an update (the student is then unusable
  // and must not reach the rollout ranks or a checkpoint).
  const std::string& failure() const { return failure_; }

 private:
  struct Scored;      // rewards and advantages of every response
  struct PolicySums;  // the policy loss's figures as sums, added up over the group
  Scored score(const std::vector<int64_t>& questions, const Responses& responses,
               const DiscriminatorResult& scored, const JudgeResult& judged) const;
  RewardStats reward_stats(const Responses& responses, const Scored& scored) const;
  PolicyStats update(int64_t step, const std::vector<int64_t>& questions, const Responses& responses,
                     const torch::Tensor& advantages);
  PolicySums backward_on(int64_t step, const Responses& responses, const std::vector<int64_t>& rows,
                         const torch::Tensor& advantages);
  std::vector<int64_t> training_ids(const Response& r) const;
  torch::Tensor behaviour_logprobs(const Responses& responses, const std::vector<int64_t>& rows,
                                   const torch::Tensor& logp) const;
  GroupOptimizer group_optimizer();
  // --offload: the state the learner puts away after its update and brings back before the
  // next one (and around a checkpoint that reads it).
  std::vector<at::Tensor> idle_state();
  void go_idle();

  std::unique_ptr<StateOffload> offload_;
  bool offload_logged_ = false;

  std::shared_ptr<PolicyModel> student_;
  std::optional<PolicyModel> reference_;
  const text::BpeTokenizer& tokenizer_;
  const data::Dataset& dataset_;
  LearnerOptions options_;
  dist::Communicator& group_;
  dist::Communicator& host_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;    // --shard none
  std::unique_ptr<dist::ShardedAdamW> sharded_;       // --shard optimizer|gradients
  SftBatchBuilder builder_;
  data::AnswerChecker checker_;
  std::unique_ptr<GreedyAnswerer> val_answerer_;
  int64_t skipped_updates_ = 0;
  std::string failure_;
};

}  // namespace ril::roles
