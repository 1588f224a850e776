// Data-parallel gradient reduction (dist/gradient_sync.h) across real MPI processes: after
// allreduce_gradients every rank holds the mean (kAvg) or the sum (kSum) of the per-rank
// gradients, exactly as computed locally from all ranks' values; a parameter without a gradient
// counts as zeros. ctest runs this under mpirun -np 1, 2, 3 and 4.
#include <gtest/gtest.h>
#include <mpi.h>

#include <vector>

#include "ril/dist/communicator_factory.h"
#include "ril/dist/gradient_sync.h"
#include "support/mpi_world.h"

namespace {

using ril::test::world_rank;
using ril::test::world_size;

std::unique_ptr<ril::dist::Communicator> world_device() {
  return ril::test::world_communicator("grad-test", ril::dist::Payload::kDeviceTensors);
}

// Rank r's gradient of parameter k: a seeded draw, so that every rank can recompute every other's.
at::Tensor gradient_of(int rank, int k, at::IntArrayRef shape) {
  at::Generator g = at::detail::createCPUGenerator(static_cast<uint64_t>(1000 * rank + k));
  return at::randn(shape, g);
}

std::vector<at::Tensor> parameters_with_gradients(int rank) {
  const std::vector<std::vector<int64_t>> shapes = {{3, 4}, {7}, {2, 2, 2}, {5}};
  std::vector<at::Tensor> params;
  for (size_t k = 0; k < shapes.size(); ++k) {
    at::Tensor p = at::zeros(shapes[k]).set_requires_grad(true);
    if (k != 3) p.mutable_grad() = gradient_of(rank, static_cast<int>(k), shapes[k]);  // parameter 3: none
    params.push_back(p);
  }
  return params;
}

TEST(GradientSync, AllreduceGivesTheMeanOfThePerRankGradients) {
  auto comm = world_device();
  const int n = comm->size();
  for (ril::dist::ReduceOp op : {ril::dist::ReduceOp::kAvg, ril::dist::ReduceOp::kSum}) {
    std::vector<at::Tensor> params = parameters_with_gradients(comm->rank());
    ril::dist::allreduce_gradients(*comm, params, op);
    for (size_t k = 0; k < params.size(); ++k) {
      ASSERT_TRUE(params[k].grad().defined()) << k;
      at::Tensor expected = at::zeros_like(params[k]);
      if (k != 3) {
        for (int r = 0; r < n; ++r) expected += gradient_of(r, static_cast<int>(k), params[k].sizes());
        if (op == ril::dist::ReduceOp::kAvg) expected /= n;
      }
      // Float32 sums in another order than MPI's: equal within a few ulps of the magnitudes.
      EXPECT_TRUE(at::allclose(params[k].grad(), expected, /*rtol=*/1e-6, /*atol=*/1e-6))
          << "parameter " << k << ", op " << ril::dist::reduce_op_name(op) << ", max diff "
          << (params[k].grad() - expected).abs().max().item<double>();
      if (n == 1) EXPECT_TRUE(at::equal(params[k].grad(), expected)) << "one rank: nothing may change";
    }
    EXPECT_TRUE(ril::dist::gradients_finite(params));
  }
  std::vector<at::Tensor> bad = parameters_with_gradients(comm->rank());
  bad[0].mutable_grad()[0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(ril::dist::gradients_finite(bad));
}

}  // namespace
