// AdamW over a data-parallel group with its state sharded (`--shard optimizer|gradients`,
// ZeRO-1 / ZeRO-2; common/shard_mode.h). The parameters, in order, form one flat buffer of
// numel() elements; group rank r owns the block [r*B, min(n, (r+1)*B)), B = ceil(n / ranks)
// (sharding.h block_range: the last blocks may be shorter or empty). A rank holds AdamW's two
// moments for its block only. One step():
//   optimizer  gradients summed over the group exactly as allreduce_gradients does for
//              --shard none (one flat allreduce), the same finiteness check and the same
//              clip_grad_norm_, then AdamW on the own block only;
//   gradients  gradients reduce-scattered (bucketed), so a rank holds the reduced gradient of
//              its block only (the full .grad tensors are released after the step); the
//              finiteness verdict and the clip norm are agreed over the group (norm summed in
//              float64);
// then every rank's new block is all-gathered into every rank's parameters (bucketed, at most
// bucket_bytes of staging per rank).
// The update is torch::optim::AdamW's (LibTorch 1.13 adamw.cpp) op for op: decay p by
// 1 - lr * wd, m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, p -= lr / bc1 * m / (sqrt(v) /
// sqrt(bc2) + eps), on slices instead of whole tensors. On CPU --shard optimizer therefore
// equals --shard none bitwise (tests/mpi/sharded_optimizer_test.cpp); --shard gradients sums in
// MPI_Reduce_scatter_block's order and clips with a float64 norm: equal within float rounding.
// Which ranks call: every member of the group, collectively (step, load); the rest is local.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ril/common/shard_mode.h"
#include "ril/dist/communicator.h"

namespace ril::dist {

struct ShardedAdamWOptions {
  ShardMode mode = ShardMode::kOptimizer;  // kOptimizer or kGradients
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // torch::optim::AdamWOptions' defaults
  double weight_decay = 0.0;
  int64_t bucket_bytes = int64_t{32} << 20;  // staging per collective round (float32)
};

// One rank's optimizer state as a checkpoint stores it: the moments of [begin, end) of a flat
// buffer of `total` elements after `step` updates (float32, CPU).
struct AdamWShard {
  int64_t begin = 0, end = 0, total = 0, step = 0;
  at::Tensor exp_avg, exp_avg_sq;
  std::string source;  // where it was read from (error messages)
};

// The state of [begin, end) of a flat buffer of `total` elements cut out of `pieces`: shards of
// that buffer written by any number of ranks (any cut, any order). Local. Throws ril::Error
// naming a piece's source when totals or steps differ, a piece's range does not match its
// moments, or the pieces leave part of [begin, end) uncovered.
AdamWShard cut_shards(const std::vector<AdamWShard>& pieces, int64_t total, int64_t begin, int64_t end);

class ShardedAdamW {
 public:
  // `params`: the model's parameters in a fixed order, the same shapes on every rank (float32,
  // contiguous). Keeps a reference to `group`.
  ShardedAdamW(Communicator& group, std::vector<at::Tensor> params, ShardedAdamWOptions options);

  // Collective. Sums the gradients over the group (see the modes above); when `loss` and every
  // gradient are finite, clips the global gradient norm to max_grad_norm (0: no clip), updates
  // the own block and all-gathers the parameters, and returns true. Otherwise nothing moves and
  // it returns false. The gradients are zeroed (optimizer) or released (gradients) either way.
  bool step(double loss, double max_grad_norm);

  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const ShardedAdamWOptions& options() const { return options_; }
  int64_t numel() const { return numel_; }
  int64_t step() const { return step_; }  // updates taken
  std::pair<int64_t, int64_t> range() const { return {begin_, end_}; }
  // The moment tensors themselves (not copies; roles/state_offload.h puts them away in place).
  std::vector<at::Tensor> state_tensors() const { return {exp_avg_, exp_avg_sq_}; }

  // This rank's state (copies).
  AdamWShard shard() const;
  // Replaces this rank's state with the elements of its block cut out of `pieces` (cut_shards).
  // Local.
  void load(const std::vector<AdamWShard>& pieces);

 private:
  struct Piece {  // the part of parameter `index` inside a flat range
    size_t index;
    int64_t param_offset, flat_offset, length;
  };
  std::vector<Piece> pieces_in(int64_t begin, int64_t end) const;
  void update_block(const at::Tensor& grad_block);  // grad_block: [end - begin], or undefined (read .grad)
  void allgather_parameters();
  at::Tensor reduce_scatter_gradients();
  void release_gradients();

  Communicator& group_;
  std::vector<at::Tensor> params_;
  std::vector<int64_t> offsets_;  // flat offset of each parameter
  ShardedAdamWOptions options_;
  int64_t numel_ = 0, block_ = 0, begin_ = 0, end_ = 0, step_ = 0;
  at::Tensor exp_avg_, exp_avg_sq_;  // [end - begin] float32, on the parameters' device
};

}  // namespace ril::dist
