#include "ril/dist/gradient_sync.h"

namespace ril::dist {

void allreduce_gradients(Communicator& comm, const std::vector<at::Tensor>& params, ReduceOp op) {
  std::vector<at::Tensor> pieces;
  pieces.reserve(params.size());
  for (const auto& p : params) {
    pieces.push_back(p.grad().defined() ? p.grad().reshape({-1}).to(at::kFloat)
                                        : at::zeros({p.numel()}, p.options().dtype(at::kFloat)));
  }
  if (pieces.empty()) return;
  at::Tensor bucket = at::cat(pieces);
  if (comm.size() > 1) comm.allreduce(bucket, op);
  int64_t offset = 0;
  for (const auto& p : params) {
    at::Tensor g = bucket.narrow(0, offset, p.numel()).view(p.sizes()).to(p.scalar_type());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(g);
    } else {
      p.mutable_grad() = g.clone();
    }
    offset += p.numel();
  }
}

bool gradients_finite(const std::vector<at::Tensor>& params) {
  for (const auto& p : params) {
    if (p.grad().defined() && !at::isfinite(p.grad()).all().item<bool>()) return false;
  }
  return true;
}

}  // namespace ril::dist
