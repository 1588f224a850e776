// `ril train`'s checkpoints (io/checkpoint_store.h writes and finds the files; their contents
// follow io/checkpoint_schema.h): every --checkpoint-every steps, at the end, and when a stop
// signal arrives (all ranks agree on the step).
//   main file (learner root)   the student + AdamW, or with --shard the index of the AdamW
//                              shards (Learner::save_state), the header: step, world size,
//                              resolved config, student config and tokenizer, stage; the world
//                              rank of the discriminator root
//   rank part (every rank)     its default CPU generator; the discriminator root also D + AdamW;
//                              with --shard every learner rank its AdamW shard
//                              (in the main file when the job has one rank)
// Resume (--resume, jobs/train_inputs.h): the learner root picks the checkpoint (auto: the newest
// complete one, a damaged one reported and skipped; PATH: a main file anywhere, with its rank
// parts beside it, or a folder holding one, checked; no: refuse a run dir that has checkpoints),
// refuses one written by another command or stage (ril sft, the other --stage) naming the command
// that can use it, and every rank agrees on the verdict (dist/agreement.h); then every rank opens
// it itself (shared file system), so a mismatch of student config is found alike everywhere and
// reported as a ConfigError; what one rank alone reads (its rank part, its AdamW shards) is agreed
// on before anyone goes on (dist/agreement.h). Another rank count resumes too (a checkpoint
// written since --shard): the student's AdamW state is re-cut to the new learner group, D's is
// read from the writer's D root, the rank generators are not restored. On CPU a run resumed with
// the same ranks is bitwise identical to an uninterrupted one; with other ranks it equals a run
// with that count from the start within float rounding (another gradient summation order).
// Which ranks call: every rank (collective over the world).
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"
#include "ril/io/checkpoint_store.h"
#include "ril/jobs/train_inputs.h"
#include "ril/jobs/train_step.h"

namespace ril::jobs {

// Where a run starts: step 0 (fresh), or the checkpoint of `step`.
struct ResumeTarget {
  int64_t step = 0;
  std::string main_path;  // "" when fresh
  bool fresh() const { return main_path.empty(); }
};

class TrainCheckpoints {
 public:
  TrainCheckpoints(const dist::RankGroups& groups, const Config& config, const TrainInputs& in);

  const std::string& directory() const { return store_.directory(); }
  std::string main_path(int64_t step) const { return store_.main_path(step); }

  // Collective: the checkpoint every rank resumes from (ConfigError alike on every rank when the
  // request cannot be met).
  ResumeTarget find_resume_target() const;
  // Collective: every rank loads its part of `target` into `roles` and its CPU generator (nothing
  // when fresh), after checking that the checkpoint belongs to this run.
  void load(const ResumeTarget& target, TrainRoles& roles);
  // Collective: the checkpoint of `step`; the learner root logs its path.
  void save(int64_t step, TrainRoles& roles);

 private:
  std::string find_on_root(ResumeTarget* target) const;
  std::string refuse_other_origin(const std::string& what, const std::string& path) const;
  void check_belongs(const io::H5File& file) const;
  void save_rank_state(io::H5File& file, TrainRoles& roles);
  void load_rank_state(const io::H5File& file, TrainRoles& roles);
  bool is_disc_root() const;

  const dist::RankGroups& groups_;
  const Config& config_;
  const TrainInputs& in_;
  io::CheckpointStore store_;
  at::Generator cpu_rng_;
};

}  // namespace ril::jobs
