// The sharded AdamW (dist/sharded_optimizer.h) across real MPI processes (ctest: -np 1, 2, 3, 4)
// against the --shard none path it replaces: allreduce_gradients + clip_grad_norm_ +
// torch::optim::AdamW on every rank. Every rank's fake gradients are seeded draws, so each rank
// runs both paths side by side on copies of the same parameters.
//   --shard optimizer: parameters and moments bitwise equal to torch's (same allreduce, same
//     clip, the same elementwise ops on slices);
//   --shard gradients: the gradient sum comes from MPI_Reduce_scatter_block (its own order) and
//     the clip norm is summed in float64 (torch: float32 per-tensor norms): equal within 1e-6.
// The parameter counts (35 elements, and 2 elements on up to 4 ranks: empty blocks) do not
// divide by 2, 3 or 4. Resharding: moments cut by another rank count load into this one's
// block and the next update is still bitwise torch's.
#include <gtest/gtest.h>
#include <torch/types.h>  // clip_grad.h is not self-contained
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <limits>
#include <vector>

#include "ril/common/error.h"
#include "ril/dist/gradient_sync.h"
#include "ril/dist/sharded_optimizer.h"
#include "ril/dist/sharding.h"
#include "ril/io/module_state.h"
#include "support/mpi_world.h"

namespace {

using ril::ShardMode;
using ril::dist::ShardedAdamW;

std::unique_ptr<ril::dist::Communicator> world_device() {
  return ril::test::world_communicator("shard-test", ril::dist::Payload::kDeviceTensors);
}

std::vector<at::Tensor> make_params(const std::vector<std::vector<int64_t>>& shapes) {
  at::Generator g = at::detail::createCPUGenerator(7);
  std::vector<at::Tensor> out;
  for (const auto& s : shapes) out.push_back(at::randn(s, g).set_requires_grad(true));
  return out;
}

std::vector<at::Tensor> copies(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone().set_requires_grad(true));
  return out;
}

// Rank `rank`'s gradient of parameter k at step t; parameter 1 has none at step 1.
void set_gradients(std::vector<at::Tensor>& params, int rank, int t) {
  for (size_t k = 0; k < params.size(); ++k) {
    if (k == 1 && t == 1) {
      params[k].mutable_grad() = at::Tensor();
      continue;
    }
    at::Generator g = at::detail::createCPUGenerator(static_cast<uint64_t>(100000 * t + 1000 * rank + k));
    params[k].mutable_grad() = at::randn(params[k].sizes(), g) * (t == 2 ? 10.0 : 0.1);  // step 2 clips
  }
}

at::Tensor flat(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}));
  return at::cat(parts);
}

// torch::optim::AdamW's moments of every parameter, as one flat buffer.
std::pair<at::Tensor, at::Tensor> torch_moments(const torch::optim::AdamW& opt, const std::vector<at::Tensor>& params) {
  const ril::io::FlatAdamWState s = ril::io::flat_adamw_state(opt, params);
  return {s.exp_avg, s.exp_avg_sq};
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return a.numel() == 0 ? 0.0 : (a - b).abs().max().item<double>();
}

struct Case {
  std::vector<std::vector<int64_t>> shapes;
};

void run_against_torch(ShardMode mode, const Case& c) {
  auto comm = world_device();
  const double lr = 1e-2, wd = 0.1, max_norm = 1.0;
  std::vector<at::Tensor> ref = make_params(c.shapes), mine = copies(ref);
  torch::optim::AdamW torch_opt(ref, torch::optim::AdamWOptions(lr).weight_decay(wd));
  ril::dist::ShardedAdamWOptions o;
  o.mode = mode;
  o.lr = lr;
  o.weight_decay = wd;
  o.bucket_bytes = 3 * 4 * comm->size();  // 3 elements per rank per round: many rounds
  ShardedAdamW sharded(*comm, mine, o);
  const bool bitwise = mode == ShardMode::kOptimizer;
  for (int t = 0; t < 4; ++t) {
    set_gradients(ref, comm->rank(), t);
    set_gradients(mine, comm->rank(), t);
    ril::dist::allreduce_gradients(*comm, ref, ril::dist::ReduceOp::kSum);
    torch::nn::utils::clip_grad_norm_(ref, max_norm);
    torch_opt.step();
    torch_opt.zero_grad();
    ASSERT_TRUE(sharded.step(/*loss=*/1.0, max_norm));
    const double d = max_diff(flat(mine), flat(ref));
    if (bitwise) {
      EXPECT_TRUE(at::equal(flat(mine), flat(ref))) << "step " << t << ": max diff " << d;
    } else {
      EXPECT_LE(d, 1e-6) << "step " << t;
    }
    const auto [m, v] = torch_moments(torch_opt, ref);
    const auto [b, e] = sharded.range();
    const ril::dist::AdamWShard s = sharded.shard();
    EXPECT_EQ(s.step, t + 1);
    ASSERT_EQ(s.exp_avg.numel(), e - b);
    if (bitwise) {
      EXPECT_TRUE(at::equal(s.exp_avg, m.narrow(0, b, e - b))) << "exp_avg, step " << t;
      EXPECT_TRUE(at::equal(s.exp_avg_sq, v.narrow(0, b, e - b))) << "exp_avg_sq, step " << t;
    } else {
      EXPECT_LE(max_diff(s.exp_avg, m.narrow(0, b, e - b)), 1e-5) << "exp_avg, step " << t;
    }
  }
  // The parameters moved (the comparison is not between two untouched copies).
  EXPECT_GT(max_diff(flat(mine), flat(make_params(c.shapes))), 1e-2);
}

const Case kOdd{{{3, 4}, {7}, {2, 2, 2}, {7}, {1}}};  // 35 elements
const Case kTiny{{{1}, {1}}};                         // 2 elements: empty blocks on 3 and 4 ranks

TEST(ShardedAdamW, OptimizerModeEqualsTorchAdamWBitwise) {
  run_against_torch(ShardMode::kOptimizer, kOdd);
  run_against_torch(ShardMode::kOptimizer, kTiny);
}

TEST(ShardedAdamW, GradientsModeEqualsTorchAdamWWithinRounding) {
  run_against_torch(ShardMode::kGradients, kOdd);
  run_against_torch(ShardMode::kGradients, kTiny);
}

TEST(ShardedAdamW, NonFiniteGradientOnOneRankSkipsTheUpdateEverywhere) {
  for (ShardMode mode : {ShardMode::kOptimizer, ShardMode::kGradients}) {
    auto comm = world_device();
    std::vector<at::Tensor> params = make_params(kOdd.shapes);
    const at::Tensor before = flat(params).clone();
    ril::dist::ShardedAdamWOptions o;
    o.mode = mode;
    ShardedAdamW sharded(*comm, params, o);
    set_gradients(params, comm->rank(), 0);
    if (comm->rank() == comm->size() - 1) params[4].mutable_grad()[0] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_FALSE(sharded.step(1.0, 1.0)) << ril::shard_mode_name(mode);
    EXPECT_TRUE(at::equal(flat(params), before));
    set_gradients(params, comm->rank(), 0);
    EXPECT_FALSE(sharded.step(std::nan(""), 1.0)) << "non-finite loss";
    EXPECT_EQ(sharded.shard().step, 0);
  }
}

// Moments written by K ranks (K = 1..5, not this job's count) load into this rank's block, and
// the next update equals torch's, which never stopped.
TEST(ShardedAdamW, ReshardedMomentsContinueBitwise) {
  auto comm = world_device();
  const double lr = 1e-2;
  std::vector<at::Tensor> ref = make_params(kOdd.shapes);
  torch::optim::AdamW torch_opt(ref, torch::optim::AdamWOptions(lr).weight_decay(0.0));
  for (int t = 0; t < 2; ++t) {
    set_gradients(ref, comm->rank(), t + 3);
    ril::dist::allreduce_gradients(*comm, ref, ril::dist::ReduceOp::kSum);
    torch_opt.step();
    torch_opt.zero_grad();
  }
  const auto [m, v] = torch_moments(torch_opt, ref);
  const int64_t n = m.numel();
  for (int k = 1; k <= 5; ++k) {
    std::vector<at::Tensor> mine = copies(ref);
    ril::dist::ShardedAdamWOptions o;
    o.lr = lr;
    ShardedAdamW sharded(*comm, mine, o);
    std::vector<ril::dist::AdamWShard> pieces;
    for (int r = k - 1; r >= 0; --r) {  // any order
      const auto [b, e] = ril::dist::block_range(n, r, k);
      ril::dist::AdamWShard s;
      s.begin = b;
      s.end = e;
      s.total = n;
      s.step = 2;
      s.exp_avg = m.narrow(0, b, e - b).clone();
      s.exp_avg_sq = v.narrow(0, b, e - b).clone();
      s.source = "piece " + std::to_string(r) + " of " + std::to_string(k);
      pieces.push_back(s);
    }
    sharded.load(pieces);
    if (k == 1 && n > 1) {  // a piece missing: named error, nothing hangs (local)
      std::vector<ril::dist::AdamWShard> cut = pieces;
      cut[0].end = cut[0].begin = 0;
      cut[0].exp_avg = cut[0].exp_avg_sq = at::zeros({0});
      EXPECT_THROW(sharded.load({cut[0]}), ril::Error);
      cut = pieces;
      cut[0].step = 1;
      cut.push_back(pieces[0]);
      try {
        sharded.load(cut);
        ADD_FAILURE() << "shards at different steps loaded";
      } catch (const ril::Error& e) {
        EXPECT_NE(std::string(e.what()).find("piece 0 of 1"), std::string::npos) << e.what();
      }
    }
    std::vector<at::Tensor> ref_next = copies(ref);
    torch::optim::AdamW next_opt(ref_next, torch::optim::AdamWOptions(lr).weight_decay(0.0));
    // Continue torch from the same state: a copy of its moments at step 2.
    ril::io::set_flat_adamw_state(next_opt, ref_next, ril::io::flat_adamw_state(torch_opt, ref));
    set_gradients(ref_next, comm->rank(), 9);
    set_gradients(mine, comm->rank(), 9);
    ril::dist::allreduce_gradients(*comm, ref_next, ril::dist::ReduceOp::kSum);
    torch::nn::utils::clip_grad_norm_(ref_next, 1.0);
    next_opt.step();
    ASSERT_TRUE(sharded.step(1.0, 1.0));
    EXPECT_TRUE(at::equal(flat(mine), flat(ref_next)))
        << "moments from " << k << " shards: max diff " << max_diff(flat(mine), flat(ref_next));
    EXPECT_FALSE(at::equal(flat(mine), flat(ref))) << "the update moved nothing";
  }
}

}  // namespace
