// Host data never rides NCCL (DESIGN.md section 2): the rank groups give every channel and group
// a communicator chosen by what it carries. On CPU ranks every host communicator is MPI or local
// and the groups' host communicator is the group itself. The second test forces the NCCL path
// (--comm nccl, one GPU per rank) in a CUDA build and checks the choice per message kind, then
// moves real CPU byte messages over the host channels: it is skipped without NCCL or GPUs.
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>

#include "ril/dist/device.h"
#include "ril/dist/host_messages.h"
#include "ril/dist/nccl_communicator.h"
#include "ril/dist/rank_groups.h"
#include "support/mpi_world.h"

namespace {

using ril::dist::Channel;
using ril::dist::Role;

using ril::test::world_size;

bool host_backend(const ril::dist::Communicator* comm) {
  return comm == nullptr || std::string(comm->backend()) == "mpi" || std::string(comm->backend()) == "local";
}

void expect_host_data_on_mpi(const ril::dist::RankGroups& groups) {
  for (int c = 0; c < ril::dist::kChannelCount; ++c) {
    const Channel channel = static_cast<Channel>(c);
    if (ril::dist::channel_payload(channel) == ril::dist::Payload::kHostData) {
      EXPECT_TRUE(host_backend(groups.channel(channel))) << ril::dist::channel_name(channel);
    }
  }
  for (Role role : ril::dist::kAllRoles) {
    EXPECT_TRUE(host_backend(groups.host_group(role))) << ril::dist::role_name(role);
    EXPECT_EQ(groups.host_group(role) != nullptr, groups.group(role) != nullptr);
  }
}

// One exchange as the training step makes it: every rollout rank's bytes to the learner root,
// then from there to every learner.
void exchange_bytes(const ril::dist::RankGroups& groups) {
  const std::string mine = "responses of world rank " + std::to_string(groups.world_rank()) + " \xc3\xa9";
  std::string all;
  if (ril::dist::Communicator* ch = groups.channel(Channel::kRollouts)) {
    const int root = groups.channel_root(Channel::kRollouts, Role::kLearner);
    for (const std::string& part : ril::dist::gather_bytes(*ch, groups.has(Role::kRollout) ? mine : "", root)) all += part;
  }
  if (ril::dist::Communicator* learners = groups.host_group(Role::kLearner)) {
    all = ril::dist::broadcast_bytes(*learners, all, 0);
    for (int r : groups.role_map().ranks(Role::kRollout)) {
      EXPECT_NE(all.find("world rank " + std::to_string(r) + " "), std::string::npos) << all;
    }
  }
}

TEST(HostChannels, CpuRanksUseMpiOrLocalForHostData) {
  ril::dist::RankGroupsOptions options;  // CPU
  for (const std::string& spec : {std::string("auto"), "all=" + std::to_string(world_size())}) {
    SCOPED_TRACE(spec);
    auto groups = ril::dist::RankGroups::create(ril::dist::RoleMap::from_spec(spec, world_size()), options);
    expect_host_data_on_mpi(*groups);
    for (Role role : ril::dist::kAllRoles) EXPECT_EQ(groups->host_group(role), groups->group(role));
    exchange_bytes(*groups);
  }
}

TEST(HostChannels, NcclConfiguredRunKeepsHostDataOnMpi) {
  if (!ril::dist::nccl_available()) GTEST_SKIP() << "this build has no NCCL (a CUDA build runs this test)";
  const int gpus = ril::dist::cuda_device_count();
  const int local = ril::dist::detect_local_rank();
  int enough = gpus > local ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &enough, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!enough) GTEST_SKIP() << "needs one GPU per rank (" << gpus << " visible)";
  ril::dist::RankGroupsOptions options;
  options.local_rank = local;
  options.device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local));
  options.backend = ril::dist::CommBackend::kNccl;  // forced
  auto groups = ril::dist::RankGroups::create(ril::dist::RoleMap::from_spec("all=" + std::to_string(world_size()),
                                                                            world_size()), options);
  expect_host_data_on_mpi(*groups);
  if (world_size() > 1) {
    EXPECT_STREQ(groups->group(Role::kLearner)->backend(), "nccl");
    EXPECT_STREQ(groups->channel(Channel::kWeights)->backend(), "nccl");
    EXPECT_NE(groups->host_group(Role::kLearner), groups->group(Role::kLearner));
  }
  exchange_bytes(*groups);
  // A device tensor still travels on the device group.
  at::Tensor x = at::full({4}, static_cast<float>(groups->world_rank() + 1), at::TensorOptions().device(options.device));
  groups->group(Role::kLearner)->allreduce(x, ril::dist::ReduceOp::kSum);
  const double n = world_size();
  EXPECT_EQ(x.cpu()[0].item<float>(), static_cast<float>(n * (n + 1) / 2));
}

}  // namespace
