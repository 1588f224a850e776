#include "ril/dist/sharded_optimizer.h"

#include <torch/types.h>  // clip_grad.h is not self-contained
#include <torch/nn/utils/clip_grad.h>

#include <algorithm>
#include <cmath>

#include "ril/common/error.h"
#include "ril/dist/gradient_sync.h"
#include "ril/dist/sharding.h"

namespace ril::dist {

ShardedAdamW::ShardedAdamW(Communicator& group, std::vector<at::Tensor> params, ShardedAdamWOptions options)
    : group_(group), params_(std::move(params)), options_(options) {
  RIL_CHECK(options_.mode != ShardMode::kNone, "ShardedAdamW runs --shard optimizer or gradients, not none");
  for (const at::Tensor& p : params_) {
    RIL_CHECK(p.scalar_type() == at::kFloat && p.is_contiguous(),
              "ShardedAdamW: parameters must be contiguous float32, got ", c10::toString(p.scalar_type()));
    offsets_.push_back(numel_);
    numel_ += p.numel();
  }
  std::tie(begin_, end_) = block_range(numel_, group_.rank(), group_.size());
  block_ = group_.size() > 0 ? (numel_ + group_.size() - 1) / group_.size() : numel_;
  const at::TensorOptions o = params_.empty() ? at::TensorOptions(at::kFloat) : params_[0].options();
  exp_avg_ = at::zeros({end_ - begin_}, o.requires_grad(false));
  exp_avg_sq_ = at::zeros({end_ - begin_}, o.requires_grad(false));
}

// The parts of the parameters that make up the flat range [begin, end), in order.
std::vector<ShardedAdamW::Piece> ShardedAdamW::pieces_in(int64_t begin, int64_t end) const {
  std::vector<Piece> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t lo = std::max(begin, offsets_[i]), hi = std::min(end, offsets_[i] + params_[i].numel());
    if (lo < hi) out.push_back({i, lo - offsets_[i], lo, hi - lo});
  }
  return out;
}

namespace {

// The flat elements [begin, end) of `tensors` (one per parameter; undefined counts as zeros)
// written into out[0, end - begin).
void read_flat(const std::vector<at::Tensor>& tensors, const std::vector<int64_t>& offsets, int64_t begin, int64_t end,
               at::Tensor out) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t n = tensors[i].defined() ? tensors[i].numel() : 0;
    const int64_t lo = std::max(begin, offsets[i]);
    const int64_t hi = std::min(end, offsets[i] + (tensors[i].defined() ? n : 0));
    if (lo < hi) out.narrow(0, lo - begin, hi - lo).copy_(tensors[i].reshape({-1}).narrow(0, lo - offsets[i], hi - lo));
  }
}

// Sum of squares in float64, in chunks of 1M elements: a float64 copy of the whole block would
// double the memory the sharding saves.
double squared_norm(const at::Tensor& block) {
  constexpr int64_t kChunk = int64_t{1} << 20;
  double sum = 0;
  for (int64_t lo = 0; lo < block.numel(); lo += kChunk) {
    sum += block.narrow(0, lo, std::min(kChunk, block.numel() - lo)).to(at::kDouble).pow(2).sum().item<double>();
  }
  return sum;
}

std::vector<at::Tensor> gradients_of(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : params) out.push_back(p.grad());
  return out;
}

}  // namespace

bool ShardedAdamW::step(double loss, double max_grad_norm) {
  at::NoGradGuard no_grad;
  at::Tensor grad_block;  // gradients mode: this rank's reduced gradient
  bool finite = false;
  if (options_.mode == ShardMode::kOptimizer) {
    // The --shard none path exactly (same allreduce, same check, same clip): bitwise equal sums.
    allreduce_gradients(group_, params_, ReduceOp::kSum);
    finite = std::isfinite(loss) && gradients_finite(params_);
    if (finite && max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params_, max_grad_norm);
  } else {
    grad_block = reduce_scatter_gradients();
    release_gradients();  // ZeRO-2: the full gradients are not needed past this point
    at::Tensor bad = at::zeros({2}, grad_block.options().dtype(at::kDouble));
    bad[0] = (std::isfinite(loss) && at::isfinite(grad_block).all().item<bool>()) ? 0.0 : 1.0;
    bad[1] = squared_norm(grad_block);
    group_.allreduce(bad, ReduceOp::kSum);
    const at::Tensor host = bad.cpu();
    finite = host[0].item<double>() == 0.0;
    if (finite && max_grad_norm > 0) {
      // clip_grad_norm_'s rule: scale by min(1, max_norm / (norm + 1e-6)).
      const double coef = max_grad_norm / (std::sqrt(host[1].item<double>()) + 1e-6);
      if (coef < 1.0) grad_block.mul_(static_cast<float>(coef));
    }
  }
  if (finite) {
    ++step_;
    update_block(grad_block);
    allgather_parameters();
  }
  if (options_.mode == ShardMode::kOptimizer) {
    for (at::Tensor& p : params_) {
      if (p.grad().defined()) p.mutable_grad().zero_();
    }
  }
  return finite;
}

void ShardedAdamW::release_gradients() {
  for (at::Tensor& p : params_) p.mutable_grad() = at::Tensor();
}

// AdamW on the own block, as torch::optim::AdamW::step (LibTorch 1.13) does it per tensor: the
// same ops with the same scalars, so each element gets the same float32 result.
void ShardedAdamW::update_block(const at::Tensor& grad_block) {
  const double lr = options_.lr, b1 = options_.beta1, b2 = options_.beta2;
  const double bias_correction1 = 1 - std::pow(b1, static_cast<double>(step_));
  const double bias_correction2 = 1 - std::pow(b2, static_cast<double>(step_));
  const double step_size = lr / bias_correction1;
  for (const Piece& piece : pieces_in(begin_, end_)) {
    at::Tensor p = params_[piece.index].detach().view({-1}).narrow(0, piece.param_offset, piece.length);
    const at::Tensor g = grad_block.defined()
                             ? grad_block.narrow(0, piece.flat_offset - begin_, piece.length)
                             : params_[piece.index].grad().view({-1}).narrow(0, piece.param_offset, piece.length);
    at::Tensor m = exp_avg_.narrow(0, piece.flat_offset - begin_, piece.length);
    at::Tensor v = exp_avg_sq_.narrow(0, piece.flat_offset - begin_, piece.length);
    if (options_.weight_decay != 0) p.mul_(1 - lr * options_.weight_decay);
    m.mul_(b1).add_(g, 1 - b1);
    v.mul_(b2).addcmul_(g, g, 1 - b2);
    const at::Tensor denom = (v.sqrt() / std::sqrt(bias_correction2)).add_(options_.eps);
    p.addcdiv_(m, denom, -step_size);
  }
}

// Elements per rank per collective round: bucket_bytes of float32 over all ranks.
namespace {
int64_t round_elements(int64_t bucket_bytes, int ranks, int64_t block) {
  const int64_t per_rank = std::max<int64_t>(1, bucket_bytes / 4 / std::max(1, ranks));
  return std::max<int64_t>(1, std::min(per_rank, block));
}
}  // namespace

at::Tensor ShardedAdamW::reduce_scatter_gradients() {
  const int ranks = group_.size();
  const at::TensorOptions o = params_.empty() ? at::TensorOptions(at::kFloat) : params_[0].options();
  at::Tensor out = at::zeros({end_ - begin_}, o.requires_grad(false));
  if (block_ == 0) return out;
  const std::vector<at::Tensor> grads = gradients_of(params_);
  const int64_t s = round_elements(options_.bucket_bytes, ranks, block_);
  for (int64_t lo = 0; lo < block_; lo += s) {
    const int64_t len = std::min(s, block_ - lo);
    at::Tensor send = at::zeros({ranks * len}, o.requires_grad(false));  // rank r's part: its block's [lo, lo + len)
    for (int r = 0; r < ranks; ++r) {
      const int64_t b = std::min(numel_, r * block_ + lo), e = std::min(numel_, r * block_ + lo + len);
      if (b < e) read_flat(grads, offsets_, b, e, send.narrow(0, r * len, e - b));
    }
    at::Tensor recv = at::empty({len}, o.requires_grad(false));
    group_.reduce_scatter(send, recv);
    const int64_t mine = std::max<int64_t>(0, std::min(len, end_ - begin_ - lo));
    if (mine > 0) out.narrow(0, lo, mine).copy_(recv.narrow(0, 0, mine));
  }
  return out;
}

void ShardedAdamW::allgather_parameters() {
  const int ranks = group_.size();
  if (ranks == 1 || block_ == 0) return;
  const at::TensorOptions o = params_[0].options().requires_grad(false);
  std::vector<at::Tensor> values;
  for (const at::Tensor& p : params_) values.push_back(p.detach());
  const int64_t s = round_elements(options_.bucket_bytes, ranks, block_);
  for (int64_t lo = 0; lo < block_; lo += s) {
    const int64_t len = std::min(s, block_ - lo);
    at::Tensor send = at::zeros({len}, o);
    const int64_t mine = std::max<int64_t>(0, std::min(len, end_ - begin_ - lo));
    if (mine > 0) read_flat(values, offsets_, begin_ + lo, begin_ + lo + mine, send.narrow(0, 0, mine));
    at::Tensor recv = at::empty({ranks * len}, o);
    group_.allgather(send, recv);
    for (int r = 0; r < ranks; ++r) {
      if (r == group_.rank()) continue;
      const int64_t b = std::min(numel_, r * block_ + lo), e = std::min(numel_, r * block_ + lo + len);
      for (const Piece& piece : pieces_in(b, e)) {
        values[piece.index].view({-1}).narrow(0, piece.param_offset, piece.length)
            .copy_(recv.narrow(0, r * len + piece.flat_offset - b, piece.length));
      }
    }
  }
}

AdamWShard ShardedAdamW::shard() const {
  AdamWShard s;
  s.begin = begin_;
  s.end = end_;
  s.total = numel_;
  s.step = step_;
  s.exp_avg = exp_avg_.cpu().clone();
  s.exp_avg_sq = exp_avg_sq_.cpu().clone();
  return s;
}

AdamWShard cut_shards(const std::vector<AdamWShard>& pieces, int64_t total, int64_t begin, int64_t end) {
  RIL_CHECK(!pieces.empty(), "sharded optimizer state: no shards to load");
  std::vector<const AdamWShard*> sorted;
  for (const AdamWShard& s : pieces) {
    RIL_CHECK(s.total == total, "optimizer shard ", s.source, " covers a flat buffer of ", s.total,
              " elements, the model has ", total);
    RIL_CHECK(s.step == pieces.front().step, "optimizer shard ", s.source, " is at step ", s.step, ", shard ",
              pieces.front().source, " at step ", pieces.front().step);
    RIL_CHECK(0 <= s.begin && s.begin <= s.end && s.end <= s.total && s.exp_avg.defined() &&
                  s.exp_avg_sq.defined() && s.exp_avg.numel() == s.end - s.begin &&
                  s.exp_avg_sq.numel() == s.end - s.begin,
              "optimizer shard ", s.source, ": range [", s.begin, ", ", s.end, ") does not match its moments (",
              s.exp_avg.defined() ? s.exp_avg.numel() : -1, " and ",
              s.exp_avg_sq.defined() ? s.exp_avg_sq.numel() : -1, " elements)");
    sorted.push_back(&s);
  }
  std::sort(sorted.begin(), sorted.end(), [](const AdamWShard* a, const AdamWShard* b) { return a->begin < b->begin; });
  int64_t covered = begin;  // everything of [begin, covered) has been found
  for (const AdamWShard* s : sorted) {
    if (s->begin > covered) break;
    covered = std::max(covered, s->end);
  }
  RIL_CHECK(covered >= end, "optimizer shards ", pieces.front().source, " (and ", pieces.size() - 1,
            " more) leave elements [", covered, ", ", end, ") of [", begin, ", ", end,
            ") uncovered: a shard is missing or was written for another model");
  AdamWShard out;
  out.begin = begin;
  out.end = end;
  out.total = total;
  out.step = pieces.front().step;
  out.exp_avg = at::zeros({end - begin}, at::kFloat);
  out.exp_avg_sq = at::zeros({end - begin}, at::kFloat);
  for (const AdamWShard* s : sorted) {
    const int64_t lo = std::max(begin, s->begin), hi = std::min(end, s->end);
    if (lo >= hi) continue;
    out.exp_avg.narrow(0, lo - begin, hi - lo).copy_(s->exp_avg.reshape({-1}).narrow(0, lo - s->begin, hi - lo));
    out.exp_avg_sq.narrow(0, lo - begin, hi - lo).copy_(s->exp_avg_sq.reshape({-1}).narrow(0, lo - s->begin, hi - lo));
  }
  return out;
}

void ShardedAdamW::load(const std::vector<AdamWShard>& pieces) {
  const AdamWShard own = cut_shards(pieces, numel_, begin_, end_);
  exp_avg_.copy_(own.exp_avg);
  exp_avg_sq_.copy_(own.exp_avg_sq);
  step_ = own.step;
}

}  // namespace ril::dist
