#include "ril/dist/rank_groups.h"

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <set>
#include <sstream>

#include "mpi_check.h"
#include "ril/dist/mpi_context.h"

namespace ril::dist {

const char* channel_name(Channel channel) {
  switch (channel) {
    case Channel::kWorld: return "world";
    case Channel::kWeights: return "weights";
    case Channel::kRollouts: return "rollouts";
    case Channel::kTeacherResponses: return "teacher-responses";
    case Channel::kScores: return "scores";
    case Channel::kVerdicts: return "verdicts";
  }
  return "?";
}

Payload channel_payload(Channel channel) {
  return channel == Channel::kWeights ? Payload::kDeviceTensors : Payload::kHostData;
}

namespace {

constexpr int kHostBytes = 64;

// Everyone learns everyone's host, local rank and device (one allgather at start-up).
std::vector<RankPlacement> gather_placements(const RankPlacement& mine, int world_size) {
  struct Wire {
    char host[kHostBytes];
    int32_t local_rank;
    int32_t device_type;  // 0 cpu, 1 cuda
    int32_t device_index;
  };
  Wire w{};
  std::strncpy(w.host, mine.host.c_str(), kHostBytes - 1);
  w.local_rank = mine.local_rank;
  w.device_type = mine.device.is_cuda() ? 1 : 0;
  w.device_index = mine.device.has_index() ? mine.device.index() : -1;
  std::vector<Wire> all(static_cast<size_t>(world_size));
  RIL_MPI_CHECK(MPI_Allgather(&w, sizeof w, MPI_BYTE, all.data(), sizeof w, MPI_BYTE, MPI_COMM_WORLD));
  std::vector<RankPlacement> out;
  for (int r = 0; r < world_size; ++r) {
    RankPlacement p;
    p.world_rank = r;
    p.local_rank = all[r].local_rank;
    p.host = std::string(all[r].host, strnlen(all[r].host, kHostBytes));
    p.device = all[r].device_type == 1 ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(all[r].device_index))
                                       : at::Device(at::kCPU);
    out.push_back(p);
  }
  return out;
}

std::vector<int> sorted_unique(std::vector<int> ranks) {
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

}  // namespace

std::unique_ptr<RankGroups> RankGroups::create(const RoleMap& map, const RankGroupsOptions& options) {
  int world_rank = 0, world_size = 0;
  RIL_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank));
  RIL_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size));
  RIL_CHECK(map.world_size() == world_size, "role map is for ", map.world_size(), " ranks but the job has ",
            world_size);
  std::unique_ptr<RankGroups> groups(new RankGroups(map));
  groups->world_rank_ = world_rank;
  groups->options_ = options;

  RankPlacement mine;
  mine.world_rank = world_rank;
  mine.local_rank = options.local_rank;
  mine.host = host_name();
  mine.device = options.device;
  groups->placements_ = gather_placements(mine, world_size);

  std::vector<CommunicatorRequest> role_requests, host_role_requests;
  for (Role role : kEveryRole) {
    role_requests.push_back({cat("group:", role_name(role)), map.ranks(role), options.backend, Payload::kDeviceTensors});
    host_role_requests.push_back({cat("host-group:", role_name(role)), map.ranks(role), options.backend, Payload::kHostData});
  }
  const int disc_root = map.root(Role::kDiscriminator);
  const int learner_root = map.root(Role::kLearner);
  const bool judged = !map.ranks(Role::kJudge).empty();
  auto with_roots = [&](std::vector<int> ranks) {
    ranks.push_back(disc_root);
    ranks.push_back(learner_root);
    if (judged) ranks.push_back(map.root(Role::kJudge));
    return sorted_unique(ranks);
  };
  std::vector<int> everyone(static_cast<size_t>(world_size));
  for (int r = 0; r < world_size; ++r) everyone[r] = r;
  std::vector<int> weights = map.ranks(Role::kRollout);
  weights.insert(weights.end(), map.ranks(Role::kDiscriminator).begin(), map.ranks(Role::kDiscriminator).end());
  weights.push_back(learner_root);

  groups->members_[static_cast<int>(Channel::kWorld)] = everyone;
  groups->members_[static_cast<int>(Channel::kWeights)] = sorted_unique(weights);
  groups->members_[static_cast<int>(Channel::kRollouts)] = with_roots(map.ranks(Role::kRollout));
  groups->members_[static_cast<int>(Channel::kTeacherResponses)] = with_roots(map.ranks(Role::kTeacher));
  groups->members_[static_cast<int>(Channel::kScores)] = sorted_unique({disc_root, learner_root});
  if (judged) groups->members_[static_cast<int>(Channel::kVerdicts)] = sorted_unique({map.root(Role::kJudge), learner_root});
  // Every choice is checked (same table, same verdict on every rank) before any is made.
  std::vector<CommunicatorRequest> channel_requests;
  for (int c = 0; c < kChannelCount; ++c) {
    const Channel channel = static_cast<Channel>(c);
    if (groups->members_[c].empty()) {  // a channel of an absent role: no communicator
      channel_requests.push_back({});
      groups->backends_[c] = "none";
      continue;
    }
    channel_requests.push_back({channel_name(channel), groups->members_[c], options.backend, channel_payload(channel)});
    groups->reasons_[c] = backend_reason(channel_requests.back(), groups->placements_, &groups->backends_[c]);
  }
  // A group whose device communicator is NCCL gets a second one, over MPI, for host data.
  std::array<bool, kRoleCount> separate_host{};
  for (size_t i = 0; i < role_requests.size(); ++i) {
    if (role_requests[i].members.empty()) continue;  // the judge without ril train --judge
    const char* backend = nullptr;
    backend_reason(role_requests[i], groups->placements_, &backend);
    separate_host[i] = std::string(backend) == "nccl";
  }
  for (size_t i = 0; i < role_requests.size(); ++i) {
    if (role_requests[i].members.empty()) continue;
    groups->groups_[i] = create_communicator(role_requests[i], groups->placements_, world_rank);
    if (separate_host[i]) {
      groups->host_groups_[i] = create_communicator(host_role_requests[i], groups->placements_, world_rank);
    }
  }
  for (int c = 0; c < kChannelCount; ++c) {
    if (groups->members_[c].empty()) continue;
    groups->channels_[c] = create_communicator(channel_requests[c], groups->placements_, world_rank);
  }
  return groups;
}

Communicator* RankGroups::host_group(Role role) const {
  const auto& host = host_groups_[static_cast<int>(role)];
  return host ? host.get() : group(role);
}

int RankGroups::channel_rank(Channel channel, int world_rank) const {
  const auto& members = members_[static_cast<int>(channel)];
  const auto it = std::find(members.begin(), members.end(), world_rank);
  return it == members.end() ? -1 : static_cast<int>(it - members.begin());
}

std::string RankGroups::describe() const {
  std::ostringstream out;
  out << "role map (layout " << map_.spec() << ", " << world_size() << " rank(s)):\n";
  out << "  rank  roles                                     host                  local  device\n";
  for (int r = 0; r < world_size(); ++r) {
    const RankPlacement& p = placements_[r];
    out << "  " << std::left << std::setw(6) << r << std::setw(42) << map_.roles_text(r) << std::setw(22) << p.host
        << std::setw(7) << p.local_rank << p.device.str() << "\n";
  }
  out << "channels:\n";
  for (int c = 0; c < kChannelCount; ++c) {
    if (members_[c].empty()) continue;  // a channel of an absent role
    std::string ranks;
    for (int r : members_[c]) ranks += cat(ranks.empty() ? "" : ",", r);
    out << "  " << std::left << std::setw(19) << channel_name(static_cast<Channel>(c)) << std::setw(7)
        << backends_[c] << std::setw(7) << payload_name(channel_payload(static_cast<Channel>(c))) << "ranks {"
        << ranks << "}: " << reasons_[c] << "\n";
  }
  return out.str();
}

}  // namespace ril::dist
