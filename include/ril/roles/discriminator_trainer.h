// The discriminator role (DESIGN.md section 2): D and its AdamW. Per step, on all 2G responses
// of every question (students label 1, teachers label 0):
//   1. unless frozen, ONE update (mu = 1) with algo::discriminator_loss: the BCE summed over
//      this rank's share, divided by the responses of the whole step, gradients summed over the
//      group (data-parallel by question: question j belongs to rank j mod D), grad-norm clip,
//      AdamW; a non-finite loss or gradient skips the update (counted, warned); --accumulate K
//      runs the share's rows (padded once, as one batch) in K contiguous micro-batches whose
//      gradients add up before the step (the normaliser stays the whole step's response count,
//      so the update equals K = 1 to float rounding);
//   2. scores D(o) = sigmoid of the head on the last token, with the UPDATED weights, for every
//      response; the group root collects them in canonical order.
// --offload optimizer|optimizer+model: after scoring, D's AdamW moments (and its weights) go to a
// scratch file / pinned host memory and its gradients are released until its next step or a
// checkpoint (roles/state_offload.h); bitwise the same training.
// Statistics (loss, accuracy all / student / teacher, mean probabilities) come from the update's
// forward pass (before the update); frozen, from the scoring pass.
// D's input is the response text alone in a fixed prompt (discriminator_prompt.h).
// Which ranks call: discriminator ranks; step() is collective over the discriminator group:
// gradients over its device communicator, statistics and scores over its host communicator.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/algo/schedules.h"
#include "ril/common/offload_mode.h"
#include "ril/common/shard_mode.h"
#include "ril/dist/communicator.h"
#include "ril/dist/sharded_optimizer.h"
#include "ril/io/h5_file.h"
#include "ril/model/discriminator.h"
#include "ril/roles/discriminator_prompt.h"
#include "ril/roles/optimizer_shards.h"
#include "ril/roles/state_offload.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/response.h"

namespace ril::roles {

// D's figures for one step, over the whole group; NaN where there is nothing to measure.
struct DiscriminatorStats {
  double loss = std::nan("");              // mean BCE
  double accuracy = std::nan("");          // share of correct predictions at 0.5
  double student_accuracy = std::nan("");
  double teacher_accuracy = std::nan("");
  double student_prob = std::nan("");      // mean D(o) of student responses
  double teacher_prob = std::nan("");      // mean D(o) of teacher responses
};

// What D hands the learner for one step (on the group root; a host message).
struct DiscriminatorResult {
  std::vector<double> scores;   // D(o) of every response of the step, in canonical order
  DiscriminatorStats stats;
  int64_t skipped_updates = 0;  // non-finite updates skipped so far in this run

  std::string encode() const;
  static DiscriminatorResult decode(const std::string& bytes);  // throws ril::Error when malformed
};

struct DiscriminatorTrainerOptions {
  std::string init_dir;         // a discriminator written by --stage disc; "": mirror of the student
  uint64_t seed = 0;            // run seed (the mirror's head init)
  bool train = true;            // false: frozen, scores only
  double lr = 1e-6;             // constant lr (ril stage) ...
  std::optional<algo::LrScheduleOptions> schedule;  // ... or this schedule (disc stage)
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;   // 0: no clipping
  int64_t accumulate = 1;       // micro-batches per update (chunks of this rank's responses)
  bool checkpoint_activations = false;  // D's decoder layers (model/activation_checkpoint.h)
  ShardMode shard = ShardMode::kNone;   // --shard: who holds D's AdamW state (common/shard_mode.h)
  OffloadMode offload = OffloadMode::kNone;  // --offload: what is put away between D's steps
  std::string offload_path;     // its scratch file (CPU)
  int64_t budget = 64;          // response tokens D reads (--max-new-tokens)
  std::string system;           // --disc-system; "": the one stored with init_dir, else the paper's
};

class DiscriminatorTrainer {
 public:
  // `student`: the mirror's source when init_dir is empty (its text decoder). Keeps
  // references to `tokenizer` and to the communicators (members of the discriminator group).
  DiscriminatorTrainer(PolicyModel& student, const text::BpeTokenizer& tokenizer,
                       const DiscriminatorTrainerOptions& options, dist::Communicator& group,
                       dist::Communicator& host_group);

  // One step on `responses` (all of the step, canonical order, on every member) of `questions`
  // (the step's, in order); step is 0-based. Returns the result on the group root, {} elsewhere.
  DiscriminatorResult step(int64_t step, const std::vector<int64_t>& questions, const Responses& responses);

  // D and its AdamW state in a checkpoint (checkpoint_schema.h names), and the model alone.
  // save_state (D root, its rank part): D, and the AdamW state or with --shard the shards' index
  // (`disc_world_ranks`: the world rank of each D rank, in order); save_shard (every D rank, its
  // own part; nothing without --shard): its moment shard; load_state (every D rank): D and this
  // rank's optimizer state from the writer's D root part `file`, whole or shards of any count
  // (`part_path(w)`: the rank part of world rank w of the writing job; roles/optimizer_shards.h).
  void save_state(io::H5File& file, const std::vector<int>& disc_world_ranks);
  void save_shard(io::H5File& part);
  void load_state(const io::H5File& file, const std::function<std::string(int)>& part_path);
  void save_model(const std::string& dir);

  // Why the run cannot go on ("" when it can): a non-finite parameter of D after an update (the
  // step driver ends the job before D reaches a checkpoint); see finite_parameters.h.
  const std::string& failure() const { return failure_; }

  // D's parameters (shared tensors, registration order); tests read their gradients after step().
  const std::vector<torch::Tensor>& parameters() const { return params_; }

 private:
  struct Share;  // this rank's responses as a batch
  struct Sums;   // statistics as sums, added up over the group
  Sums update(int64_t step, const Share& share, double responses);
  std::vector<double> score(const Share& share, Sums* frozen_sums, double responses);
  GroupOptimizer group_optimizer();
  // --offload: the state D puts away after its step and brings back before the next one.
  std::vector<at::Tensor> idle_state();
  void go_idle();

  std::unique_ptr<StateOffload> offload_;
  bool offload_logged_ = false;
  DiscriminatorResult collect(const Share& share, const std::vector<double>& scores, const Sums& sums,
                              size_t responses);

  DiscriminatorTrainerOptions options_;
  dist::Communicator& group_;
  dist::Communicator& host_;
  model::Qwen2Discriminator disc_{nullptr};
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;  // --shard none
  std::unique_ptr<dist::ShardedAdamW> sharded_;     // --shard optimizer|gradients
  DiscriminatorPrompt prompt_;
  int64_t skipped_updates_ = 0;
  std::string failure_;
};

}  // namespace ril::roles
