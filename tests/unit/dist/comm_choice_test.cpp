// The communicator factory's choice per kind of message (dist/communicator_factory.h), decided
// from a placement table alone: host data (responses, scores, statistics) never goes to NCCL,
// whatever --comm says and wherever the ranks are; device tensors take NCCL only where every
// member has its own GPU and NCCL is built in. The placements here are made up (no GPU needed).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ril/common/error.h"
#include "ril/dist/communicator_factory.h"
#include "ril/dist/nccl_communicator.h"
#include "ril/dist/rank_groups.h"

namespace {

using ril::dist::CommBackend;
using ril::dist::CommunicatorRequest;
using ril::dist::Payload;
using ril::dist::RankPlacement;

std::vector<RankPlacement> placements(bool cuda, bool share_gpu) {
  std::vector<RankPlacement> out;
  for (int r = 0; r < 4; ++r) {
    RankPlacement p;
    p.world_rank = r;
    p.local_rank = r;
    p.host = "node0";
    p.device = cuda ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(share_gpu ? 0 : r)) : at::Device(at::kCPU);
    out.push_back(p);
  }
  return out;
}

std::string choice(Payload payload, CommBackend backend, const std::vector<RankPlacement>& where,
                   std::vector<int> members = {0, 1, 2, 3}) {
  const char* chosen = "?";
  ril::dist::backend_reason(CommunicatorRequest{"test", std::move(members), backend, payload}, where, &chosen);
  return chosen;
}

TEST(CommunicatorChoice, HostDataAlwaysTravelsOverMpi) {
  for (bool cuda : {false, true}) {
    for (bool share : {false, true}) {
      for (CommBackend backend : {CommBackend::kAuto, CommBackend::kMpi, CommBackend::kNccl}) {
        const auto where = placements(cuda, share);
        EXPECT_EQ(choice(Payload::kHostData, backend, where), "mpi") << cuda << share << static_cast<int>(backend);
        EXPECT_EQ(choice(Payload::kHostData, backend, where, {2}), "local");
      }
    }
  }
}

TEST(CommunicatorChoice, DeviceTensorsTakeNcclOnlyOnDistinctGpus) {
  const bool nccl = ril::dist::nccl_available();
  EXPECT_EQ(choice(Payload::kDeviceTensors, CommBackend::kAuto, placements(false, false)), "mpi");
  EXPECT_EQ(choice(Payload::kDeviceTensors, CommBackend::kAuto, placements(true, false)), nccl ? "nccl" : "mpi");
  EXPECT_EQ(choice(Payload::kDeviceTensors, CommBackend::kAuto, placements(true, true)), "mpi");  // a shared GPU
  EXPECT_EQ(choice(Payload::kDeviceTensors, CommBackend::kMpi, placements(true, false)), "mpi");
  EXPECT_EQ(choice(Payload::kDeviceTensors, CommBackend::kAuto, placements(true, false), {1}), "local");
  // --comm nccl where NCCL cannot serve is bad input for device tensors only.
  EXPECT_THROW(choice(Payload::kDeviceTensors, CommBackend::kNccl, placements(false, false)), ril::ConfigError);
  if (!nccl) EXPECT_THROW(choice(Payload::kDeviceTensors, CommBackend::kNccl, placements(true, false)), ril::ConfigError);
}

TEST(CommunicatorChoice, ChannelsDeclareTheirPayload) {
  using ril::dist::Channel;
  EXPECT_EQ(ril::dist::channel_payload(Channel::kWeights), Payload::kDeviceTensors);
  for (Channel c : {Channel::kWorld, Channel::kRollouts, Channel::kTeacherResponses, Channel::kScores}) {
    EXPECT_EQ(ril::dist::channel_payload(c), Payload::kHostData) << ril::dist::channel_name(c);
  }
}

}  // namespace
