#include "ril/jobs/train_state.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <optional>

#include "ril/common/logging.h"
#include "ril/dist/agreement.h"
#include "ril/dist/host_messages.h"
#include "ril/io/checkpoint_schema.h"
#include "ril/io/module_state.h"

namespace ril::jobs {
namespace {

namespace fs = std::filesystem;
using dist::Channel;
using dist::Role;

// Root attribute of the main file: the world rank whose part holds D's state, so that a job with
// another rank count can find it.
constexpr const char* kDiscRootAttr = "discriminator_root";

}  // namespace

TrainCheckpoints::TrainCheckpoints(const dist::RankGroups& groups, const Config& config, const TrainInputs& in)
    : groups_(groups),
      config_(config),
      in_(in),
      store_(config.common.run_dir, io::CheckpointStoreOptions{static_cast<int>(config.train.keep_checkpoints)}),
      cpu_rng_(at::detail::getDefaultCPUGenerator()) {}

bool TrainCheckpoints::is_disc_root() const {
  return groups_.world_rank() == groups_.role_map().root(Role::kDiscriminator);
}

// Why the checkpoint `what` (at `path`) cannot resume this run: it was written by another
// command or stage, whose own command is named; "" when it belongs here.
std::string TrainCheckpoints::refuse_other_origin(const std::string& what, const std::string& path) const {
  const io::H5File file = io::H5File::open(path, io::kCheckpointKind);
  const std::string origin = io::checkpoint_origin(io::read_checkpoint_header(file));
  const std::string stage = train_stage_name(in_.stage);
  const std::string own = cat("train --stage ", stage);
  if (origin == own) return "";
  const std::string head = cat(what, " is a checkpoint of `ril ", origin.empty() ? std::string("?") : origin,
                               "`; `ril ", own, "` resumes only its own checkpoints. ");
  if (origin == "sft") {
    return head + "Continue that SFT run with `ril sft --resume` in its run directory, or start ril train from "
                  "the model it wrote (--student DIR) with --resume no or another --run-dir";
  }
  if (origin == "train --stage disc") {
    return head + "Continue that stage with `ril train --stage disc`, or start --stage ril from the discriminator "
                  "it wrote (--discriminator DIR) in another --run-dir";
  }
  if (origin == "train --stage ril") {
    return head + "Continue it with `ril train --stage ril`, or give --stage disc another --run-dir";
  }
  return head + "This file does not say which command wrote it (no stage attribute, no resolved configuration)";
}

// The learner root's verdict: "" and *target (fresh when there is nothing to resume), or why
// the request fails.
std::string TrainCheckpoints::find_on_root(ResumeTarget* target) const {
  *target = {};
  try {
    std::optional<io::CheckpointInfo> found;
    std::string what;
    switch (in_.resume.mode) {
      case ResumeMode::kAuto:
        found = store_.find_latest();
        if (found) what = cat("the newest checkpoint in ", store_.directory(), " (", found->path, ")");
        break;
      case ResumeMode::kNo:
        if (store_.list_complete().empty()) return "";
        return cat("--resume no, but ", store_.directory(),
                   " already holds checkpoints; resume (--resume auto) or choose another --run-dir");
      case ResumeMode::kPath:
        found = io::locate_checkpoint(in_.resume.path);  // a main file anywhere, or a folder holding one
        what = found->path == in_.resume.path ? cat("--resume ", found->path)
                                              : cat("--resume ", in_.resume.path, " (", found->path, ")");
        break;
    }
    if (!found) return "";
    const std::string refusal = refuse_other_origin(what, found->path);
    if (!refusal.empty()) return refusal;
    *target = {found->step, found->path};
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

ResumeTarget TrainCheckpoints::find_resume_target() const {
  dist::Communicator& world = *groups_.channel(Channel::kWorld);
  const int root = groups_.channel_root(Channel::kWorld, Role::kLearner);
  ResumeTarget target;
  const std::string error = world.rank() == root ? find_on_root(&target) : std::string();
  dist::agree_or_throw(world, error, dist::ErrorKind::kConfig, "ril train: cannot resume: ");
  target.step = dist::broadcast_value(world, target.step, root);
  target.main_path = dist::broadcast_text(world, target.main_path, root);
  return target;
}

void TrainCheckpoints::check_belongs(const io::H5File& file) const {
  const TrainConfig& t = config_.train;
  const io::CheckpointHeader h = io::read_checkpoint_header(file);
  RIL_CONFIG_CHECK(h.student_config == in_.student_config_text, "ril train: checkpoint ", file.path(),
                   " was written for another student model config than --student ", t.student,
                   "; use the same --student or another --run-dir");
  // Another rank count works when the file says where D's state is (written since --shard): the
  // optimizer states are re-cut to the new groups (roles/optimizer_shards.h).
  RIL_CONFIG_CHECK(h.world_size == groups_.world_size() || file.has_attr("/", kDiscRootAttr), "ril train: checkpoint ",
                   file.path(), " was written by ", h.world_size, " ranks, this job has ", groups_.world_size(),
                   "; this older checkpoint resumes only with the same number of ranks and --layout");
}

void TrainCheckpoints::load(const ResumeTarget& target, TrainRoles& roles) {
  if (target.fresh()) return;
  const io::H5File file = io::H5File::open(target.main_path, io::kCheckpointKind);
  check_belongs(file);
  const int64_t written_by = io::read_checkpoint_header(file).world_size;
  const bool same_ranks = written_by < 0 || written_by == groups_.world_size();
  // The part of world rank `rank` of the job that wrote the checkpoint: beside the main file,
  // named as the store names it; the main file itself when that job had one rank.
  auto part_path = [&](int rank) {
    if ((same_ranks ? groups_.world_size() : written_by) == 1) return target.main_path;
    const fs::path name = fs::path(store_.rank_path(target.step, rank)).filename();
    return (fs::path(target.main_path).parent_path() / name).string();
  };
  auto part = [&](int rank) { return io::H5File::open(part_path(rank), io::kCheckpointRankKind); };
  // Each rank reads its own files (a learner rank only the shards its block needs), so one rank
  // can fail where the others do not: agree before anyone goes on.
  std::string error;
  try {
    const int64_t writers = same_ranks ? groups_.world_size() : written_by;
    if (roles.learner) roles.learner->load_state(file, part_path);
    if (roles.discriminator) {  // from the part of the writer's D root (the main file when it had one rank)
      const int disc_root = file.has_attr("/", kDiscRootAttr) ? static_cast<int>(file.attr_int("/", kDiscRootAttr))
                                                               : groups_.role_map().root(Role::kDiscriminator);
      if (writers == 1) {
        roles.discriminator->load_state(file, part_path);
      } else {
        roles.discriminator->load_state(part(disc_root), part_path);
      }
    }
    // The rank generators map onto ranks only at the same count; at another count they are not
    // restored (ril train draws every random number from per-question seeds, seed.h, never from
    // a rank's default generator).
    if (same_ranks && writers == 1) {
      load_rank_state(file, roles);
    } else if (same_ranks) {
      load_rank_state(part(groups_.world_rank()), roles);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  dist::agree_or_throw(*groups_.channel(Channel::kWorld), error, dist::ErrorKind::kConfig,
                       cat("ril train: cannot resume from ", target.main_path, ": "));
  if (groups_.is_metrics_rank()) {
    log_info("train", "resumed from ", target.main_path, " at step ", target.step,
             same_ranks ? std::string() : cat(" (written by ", written_by, " ranks, resumed on ", groups_.world_size(), ")"));
  }
}

void TrainCheckpoints::save_rank_state(io::H5File& file, TrainRoles& roles) {
  io::save_generator(file, io::checkpoint_names::kRankRng, cpu_rng_);
  if (roles.learner) roles.learner->save_shard(file);  // --shard: this rank's optimizer moments
  if (roles.discriminator) {
    if (is_disc_root()) roles.discriminator->save_state(file, groups_.role_map().ranks(Role::kDiscriminator));
    roles.discriminator->save_shard(file);
  }
}

void TrainCheckpoints::load_rank_state(const io::H5File& file, TrainRoles&) {
  io::load_generator(file, io::checkpoint_names::kRankRng, cpu_rng_);
}

void TrainCheckpoints::save(int64_t step, TrainRoles& roles) {
  dist::Communicator& world = *groups_.channel(Channel::kWorld);
  const int world_size = groups_.world_size();
  if (world_size > 1) {
    store_.write_rank(step, groups_.world_rank(), world_size, [&](io::H5File& f) { save_rank_state(f, roles); });
  }
  world.barrier();
  if (groups_.is_metrics_rank()) {
    io::CheckpointHeader header;
    header.step = step;
    header.world_size = world_size;
    header.stage = train_stage_name(in_.stage);
    header.config_text = config_.resolved_text();
    header.student_config = in_.student_config_text;
    header.student_tokenizer = fs::absolute(in_.tokenizer_path).string();
    const std::string path = store_.write(
        step,
        [&](io::H5File& file) {
          roles.learner->save_state(file, groups_.role_map().ranks(Role::kLearner));
          io::write_checkpoint_header(file, header);
          file.set_attr("/", kDiscRootAttr, static_cast<int64_t>(groups_.role_map().root(Role::kDiscriminator)));
          if (world_size == 1) save_rank_state(file, roles);
        },
        world_size);
    log_info("train", "checkpoint ", path);
  }
  world.barrier();
}

}  // namespace ril::jobs
