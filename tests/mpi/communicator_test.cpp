// Rank groups, communicators and weight sync across real MPI processes. ctest runs this file
// under `mpirun -np 1` and `-np 4`; every rank runs every test, and main() fails the run if any
// rank failed.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include "ril/common/error.h"
#include "ril/dist/communicator_factory.h"
#include "ril/dist/device.h"
#include "ril/dist/nccl_communicator.h"
#include "ril/dist/rank_groups.h"
#include "ril/dist/weight_sync.h"
#include "support/mpi_world.h"

namespace {

using ril::dist::Channel;
using ril::dist::Role;

using ril::test::world_rank;
using ril::test::world_size;

std::unique_ptr<ril::dist::RankGroups> make_groups(const std::string& spec) {
  ril::dist::RankGroupsOptions options;  // CPU, MPI: the CI machine has no GPU
  return ril::dist::RankGroups::create(ril::dist::RoleMap::from_spec(spec, world_size()), options);
}

// Layouts that fit the world size this process runs under.
std::vector<std::string> layouts() {
  switch (world_size()) {
    case 1: return {"auto", "all=1"};
    case 2: return {"auto", "teacher+rollout=1,discriminator+learner=1", "all=2"};
    case 3: return {"auto", "teacher+rollout+discriminator=1,learner=2"};
    case 4: return {"auto", "teacher=1,rollout=1,discriminator=1,learner=1", "teacher+rollout=2,discriminator+learner=2",
                    "rollout+learner=1,teacher=1,discriminator=2", "all=4"};
    default: return {"auto"};
  }
}

TEST(RankGroups, GroupsAndChannelsMatchTheRoleMap) {
  for (const std::string& spec : layouts()) {
    SCOPED_TRACE(spec);
    auto groups = make_groups(spec);
    const auto& map = groups->role_map();
    for (Role role : ril::dist::kAllRoles) {
      const auto& ranks = map.ranks(role);
      ril::dist::Communicator* g = groups->group(role);
      const auto pos = std::find(ranks.begin(), ranks.end(), world_rank());
      if (pos == ranks.end()) {
        EXPECT_EQ(g, nullptr);
        continue;
      }
      ASSERT_NE(g, nullptr);
      EXPECT_EQ(g->size(), static_cast<int>(ranks.size()));
      EXPECT_EQ(g->rank(), pos - ranks.begin());
      EXPECT_STREQ(g->backend(), ranks.size() == 1 ? "local" : "mpi");
      // Group members really are the role's ranks: gather world ranks at the group root.
      auto got = g->gather(at::full({1}, world_rank(), at::kLong), 0);
      if (g->rank() == 0) {
        ASSERT_EQ(got.size(), ranks.size());
        for (size_t i = 0; i < ranks.size(); ++i) EXPECT_EQ(got[i].item<int64_t>(), ranks[i]);
      }
    }
    for (int c = 0; c < ril::dist::kChannelCount; ++c) {
      const auto channel = static_cast<Channel>(c);
      const int local = groups->channel_rank(channel, world_rank());
      ril::dist::Communicator* ch = groups->channel(channel);
      EXPECT_EQ(ch != nullptr, local >= 0) << ril::dist::channel_name(channel);
      if (ch) {
        EXPECT_EQ(ch->rank(), local);
        EXPECT_EQ(ch->size(), static_cast<int>(groups->channel_members(channel).size()));
      }
    }
    // The weights channel holds the learner root and every rollout and discriminator rank.
    EXPECT_GE(groups->channel_root(Channel::kWeights, Role::kLearner), 0);
    for (int r : map.ranks(Role::kRollout)) EXPECT_GE(groups->channel_rank(Channel::kWeights, r), 0);
    EXPECT_EQ(groups->is_metrics_rank(), world_rank() == map.root(Role::kLearner));
  }
}

// Every dtype the issue lists, through every operation, on the world channel.
class EveryDtype : public ::testing::TestWithParam<at::ScalarType> {};

at::Tensor sample(at::ScalarType dtype, std::vector<int64_t> shape, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  if (dtype == at::kBool) return at::rand(shape, gen) > 0.5;
  if (at::isFloatingType(dtype)) return (at::randn(shape, gen) * 100).to(dtype);
  return at::randint(0, 100, shape, gen, at::TensorOptions().dtype(at::kLong)).to(dtype);
}

TEST_P(EveryDtype, SendRecvBroadcastAllreduceGatherRoundTrip) {
  const at::ScalarType dtype = GetParam();
  auto groups = make_groups("auto");
  ril::dist::Communicator& world = *groups->channel(Channel::kWorld);
  const int n = world.size(), me = world.rank();
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {7}, {3, 5}, {2, 3, 4, 2}};
  for (size_t s = 0; s < shapes.size(); ++s) {
    SCOPED_TRACE(c10::toString(dtype) + std::string(" shape #") + std::to_string(s));
    // send/recv around a ring (a rank sends to itself when n == 1); non-contiguous on the way.
    const at::Tensor mine = sample(dtype, shapes[s], 100 * me + s);
    const at::Tensor outgoing = mine.dim() >= 2 ? mine.transpose(0, 1).contiguous().transpose(0, 1) : mine;
    const int next = (me + 1) % n, prev = (me + n - 1) % n;
    if (me % 2 == 0) {
      world.send(outgoing, next, 3);
      const at::Tensor got = world.recv(prev, 3);
      EXPECT_TRUE(at::equal(got, sample(dtype, shapes[s], 100 * prev + s)));
    } else {
      const at::Tensor got = world.recv(prev, 3);
      world.send(outgoing, next, 3);
      EXPECT_TRUE(at::equal(got, sample(dtype, shapes[s], 100 * prev + s)));
    }
    // broadcast from the last rank
    at::Tensor b = me == n - 1 ? sample(dtype, shapes[s], 999 + s) : at::zeros(shapes[s], dtype);
    world.broadcast(b, n - 1);
    EXPECT_TRUE(at::equal(b, sample(dtype, shapes[s], 999 + s)));
    // gather at rank 0 with per-rank shapes
    std::vector<int64_t> my_shape = shapes[s];
    if (!my_shape.empty()) my_shape[0] += me;
    auto gathered = world.gather(sample(dtype, my_shape, 50 + me), 0);
    if (me == 0) {
      ASSERT_EQ(gathered.size(), static_cast<size_t>(n));
      for (int r = 0; r < n; ++r) {
        std::vector<int64_t> shape = shapes[s];
        if (!shape.empty()) shape[0] += r;
        EXPECT_TRUE(at::equal(gathered[r], sample(dtype, shape, 50 + r))) << "from rank " << r;
      }
    } else {
      EXPECT_TRUE(gathered.empty());
    }
    // allreduce: integers exactly, floats in float64 reference within the dtype's rounding
    at::Tensor contribution = sample(dtype, shapes[s], 7000 + me);
    if (dtype == at::kBool) {
      at::Tensor any = contribution.clone(), all = contribution.clone();
      world.allreduce(any, ril::dist::ReduceOp::kMax);
      world.allreduce(all, ril::dist::ReduceOp::kMin);
      at::Tensor exp_any = at::zeros(shapes[s], at::kBool), exp_all = at::ones(shapes[s], at::kBool);
      for (int r = 0; r < n; ++r) {
        exp_any = exp_any.logical_or(sample(dtype, shapes[s], 7000 + r));
        exp_all = exp_all.logical_and(sample(dtype, shapes[s], 7000 + r));
      }
      EXPECT_TRUE(at::equal(any, exp_any));
      EXPECT_TRUE(at::equal(all, exp_all));
      EXPECT_THROW(world.allreduce(any, ril::dist::ReduceOp::kSum), ril::Error);
      continue;
    }
    at::Tensor sum = contribution.clone(), maximum = contribution.clone();
    world.allreduce(sum, ril::dist::ReduceOp::kSum);
    world.allreduce(maximum, ril::dist::ReduceOp::kMax);
    at::Tensor exp_sum = at::zeros(shapes[s], at::kDouble), exp_max = sample(dtype, shapes[s], 7000).to(at::kDouble);
    for (int r = 0; r < n; ++r) {
      const at::Tensor x = sample(dtype, shapes[s], 7000 + r).to(at::kDouble);
      exp_sum += x;
      exp_max = at::maximum(exp_max, x);
    }
    EXPECT_EQ(sum.scalar_type(), dtype);
    EXPECT_TRUE(at::equal(maximum.to(at::kDouble), exp_max));
    if (at::isFloatingType(dtype)) {
      const double tol = (dtype == at::kBFloat16 ? 8e-3 : dtype == at::kHalf ? 1e-3 : 1e-6) * 100 * n;
      EXPECT_TRUE(at::allclose(sum.to(at::kDouble), exp_sum, 0, tol + 1e-2 * (dtype == at::kBFloat16)))
          << (sum.to(at::kDouble) - exp_sum).abs().max().item<double>();
    } else if (dtype == at::kByte) {
      EXPECT_TRUE(at::equal(sum.to(at::kDouble), exp_sum.remainder(256)))  // uint8 sums wrap, as in MPI
          << at::stack({sum.to(at::kDouble).flatten(), exp_sum.remainder(256).flatten()});
    } else {
      EXPECT_TRUE(at::equal(sum.to(at::kDouble), exp_sum));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, EveryDtype,
                         ::testing::Values(at::kFloat, at::kDouble, at::kBFloat16, at::kHalf, at::kLong, at::kInt,
                                           at::kByte, at::kBool),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

// Many small parameters, tiny buckets: every receiver ends bitwise equal to the sender.
TEST(WeightSync, BroadcastIsBitwiseIdenticalOnEveryReceiver) {
  for (const std::string& spec : layouts()) {
    SCOPED_TRACE(spec);
    auto groups = make_groups(spec);
    ril::dist::Communicator* channel = groups->channel(Channel::kWeights);
    if (!channel) continue;
    const int root = groups->channel_root(Channel::kWeights, Role::kLearner);
    auto make = [](uint64_t seed) {
      ril::dist::NamedTensors params;
      at::Generator gen = at::detail::createCPUGenerator(seed);
      for (int i = 0; i < 300; ++i) {
        const int64_t rows = 1 + (i * 7) % 13, cols = 1 + (i * 5) % 11;
        const at::ScalarType dtype = i % 3 == 0 ? at::kBFloat16 : i % 3 == 1 ? at::kFloat : at::kHalf;
        params.emplace_back("p" + std::to_string(i), at::randn({rows, cols}, gen).to(dtype));
      }
      params.emplace_back("big", at::randn({300, 257}, gen));
      return params;
    };
    ril::dist::NamedTensors mine = make(channel->rank() == root ? 11 : 99);
    ril::dist::WeightSyncOptions options;
    options.bucket_bytes = 1000;  // an awkward size: tensors straddle bucket edges
    ril::dist::WeightSync sync(*channel, root, mine, options);
    for (int64_t version = 1; version <= 2; ++version) {
      if (channel->rank() == root && version == 2) {
        for (auto& p : mine) p.second.mul_(2);
      }
      const auto stats = sync.sync(version);
      EXPECT_EQ(stats.version, version);
      const ril::dist::NamedTensors expected = make(11);
      for (size_t i = 0; i < mine.size(); ++i) {
        const at::Tensor want = version == 2 ? expected[i].second * 2 : expected[i].second;
        ASSERT_TRUE(at::equal(mine[i].second, want)) << mine[i].first << " version " << version;
      }
      if (channel->size() > 1) EXPECT_GT(stats.buckets, 100);
    }
    // Versions only grow: resending version 2 is refused on every rank (none is left waiting).
    EXPECT_THROW(sync.sync(2), ril::Error);
  }
}

TEST(WeightSync, ADifferentModelLayoutIsRefusedOnEveryRank) {
  auto groups = make_groups("auto");
  ril::dist::Communicator* channel = groups->channel(Channel::kWeights);
  if (!channel || channel->size() < 2) GTEST_SKIP() << "needs a weights channel of 2+ ranks (run with -np 4)";
  const int root = groups->channel_root(Channel::kWeights, Role::kLearner);
  const int64_t cols = channel->rank() == root ? 8 : 9;  // receivers built a different model
  ril::dist::NamedTensors params = {{"w", at::zeros({4, cols})}};
  ril::dist::WeightSync sync(*channel, root, params);
  try {
    sync.sync(1);
    ADD_FAILURE() << "a layout mismatch was accepted";
  } catch (const ril::Error& e) {
    EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
  }
}

// NCCL with one rank per communicator: runs where a GPU and a CUDA build exist.
TEST(NcclCommunicator, OneRankPerGpuCollectives) {
  if (!ril::dist::nccl_available()) GTEST_SKIP() << "this build has no NCCL (configure with a CUDA LibTorch or -DRIL_CUDA=ON)";
  if (ril::dist::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible";
  const int local = ril::dist::detect_local_rank();
  std::vector<ril::dist::RankPlacement> placements(world_size());
  for (int r = 0; r < world_size(); ++r) {
    placements[r].world_rank = r;
    placements[r].device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local % ril::dist::cuda_device_count()));
  }
  for (int r = 0; r < world_size(); ++r) {
    ril::dist::CommunicatorRequest request{"nccl-test", {r}, ril::dist::CommBackend::kNccl};
    auto comm = ril::dist::create_communicator(request, placements, world_rank());
    if (r != world_rank()) {
      EXPECT_EQ(comm, nullptr);
      continue;
    }
    ASSERT_NE(comm, nullptr);
    EXPECT_STREQ(comm->backend(), "nccl");
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kLong, at::kInt, at::kByte, at::kBool}) {
      const at::Tensor x = sample(dtype, {5, 3}, 3).to(placements[r].device);
      at::Tensor b = x.clone();
      comm->broadcast(b, 0);
      EXPECT_TRUE(at::equal(b, x));
      at::Tensor m = x.clone();
      comm->allreduce(m, ril::dist::ReduceOp::kMax);
      EXPECT_TRUE(at::equal(m, x));
      auto g = comm->gather(x, 0);
      ASSERT_EQ(g.size(), 1u);
      EXPECT_TRUE(at::equal(g[0], x));
      comm->send(x, 0, 1);
      EXPECT_TRUE(at::equal(comm->recv(0, 1), x));
    }
  }
}

}  // namespace
