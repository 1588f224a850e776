// The job's communicators, made once from the RoleMap (collective over MPI_COMM_WORLD):
// - per role, its members in world-rank order, twice over: group(role) for device tensors
//   (the data-parallel gradient allreduce of the learners and discriminators; NCCL where every
//   member has its own GPU) and host_group(role) for host data (responses, scores, statistics:
//   MPI or local, never NCCL). Where the device choice is MPI or local anyway the two are one
//   communicator;
// - channels between groups, in the pattern the training loop uses, each with its payload:
//     kWeights           device  learner root + every rollout and discriminator rank: new student
//                                weights, broadcast from the learner root (WeightSync)
//     kRollouts          host    every rollout rank + discriminator root + learner root (+ judge
//                                root): sampled responses go to D, the learner (and the judge)
//     kTeacherResponses  host    every teacher rank + discriminator root + learner root (+ judge
//                                root): teacher responses go to D, the learner (and the judge)
//     kScores            host    discriminator root + learner root: D's scores and statistics
//     kWorld             host    everyone: step times, stop signals, verdicts
//     kVerdicts          host    judge root + learner root: the judge's verdicts (ril train
//                                --judge only; without a judge rank it has no members: null)
// A channel whose members are one rank (colocated roles) is a LocalCommunicator.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "ril/dist/communicator.h"
#include "ril/dist/communicator_factory.h"
#include "ril/dist/device.h"
#include "ril/dist/role_map.h"

namespace ril::dist {

enum class Channel { kWorld = 0, kWeights, kRollouts, kTeacherResponses, kScores, kVerdicts };
constexpr int kChannelCount = 6;
const char* channel_name(Channel channel);
// What a channel carries (the table above): only kWeights carries device tensors.
Payload channel_payload(Channel channel);

struct RankGroupsOptions {
  at::Device device = at::kCPU;              // this rank's device, from select_device()
  int local_rank = 0;                        // from detect_local_rank()
  CommBackend backend = CommBackend::kAuto;  // --comm
};

class RankGroups {
 public:
  // Collective over MPI_COMM_WORLD; `map.world_size()` must equal the world size. A ConfigError
  // (e.g. --comm nccl on CPU ranks) is thrown on every rank alike, before any communicator exists.
  static std::unique_ptr<RankGroups> create(const RoleMap& map, const RankGroupsOptions& options);

  const RoleMap& role_map() const { return map_; }
  int world_rank() const { return world_rank_; }
  int world_size() const { return map_.world_size(); }
  bool has(Role role) const { return map_.has(world_rank_, role); }
  const RankPlacement& placement(int world_rank) const { return placements_.at(world_rank); }
  at::Device device() const { return placements_.at(world_rank_).device; }

  // nullptr when this rank is not a member (or the role has no ranks: the judge without --judge).
  // group(): device tensors; host_group(): host data.
  Communicator* group(Role role) const { return groups_[static_cast<int>(role)].get(); }
  Communicator* host_group(Role role) const;
  Communicator* channel(Channel channel) const { return channels_[static_cast<int>(channel)].get(); }
  const std::vector<int>& channel_members(Channel channel) const { return members_[static_cast<int>(channel)]; }
  // The channel rank of a world rank, or -1 when it is not a member.
  int channel_rank(Channel channel, int world_rank) const;
  // The channel rank of a role's root (its lowest world rank).
  int channel_root(Channel channel, Role role) const { return channel_rank(channel, map_.root(role)); }

  // The one rank that logs metrics and summaries: the learner root.
  bool is_metrics_rank() const { return world_rank_ == map_.root(Role::kLearner); }
  // The role map table: rank -> roles -> host -> device, then each channel's backend and why.
  std::string describe() const;

 private:
  explicit RankGroups(const RoleMap& map) : map_(map) {}
  RoleMap map_;
  int world_rank_ = 0;
  std::vector<RankPlacement> placements_;
  std::array<std::unique_ptr<Communicator>, kRoleCount> groups_;
  std::array<std::unique_ptr<Communicator>, kRoleCount> host_groups_;  // null: group() serves host data too
  std::array<std::unique_ptr<Communicator>, kChannelCount> channels_;
  std::array<std::vector<int>, kChannelCount> members_;
  std::array<std::string, kChannelCount> reasons_;
  std::array<const char*, kChannelCount> backends_{};
  RankGroupsOptions options_;
};

}  // namespace ril::dist
