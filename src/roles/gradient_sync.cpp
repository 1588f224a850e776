#include "ril/roles/gradient_sync.h"

namespace ril::roles {

std::vector<double> allreduce_gradients(dist::Communicator& comm, const std::vector<torch::Tensor>& params,
                                        const std::vector<double>& extra, dist::ReduceOp op) {
  std::vector<torch::Tensor> pieces;
  pieces.reserve(params.size() + 1);
  for (const auto& p : params) {
    pieces.push_back(p.grad().defined() ? p.grad().reshape({-1}).to(torch::kFloat32)
                                        : torch::zeros({p.numel()}, p.options().dtype(torch::kFloat32)));
  }
  pieces.push_back(torch::tensor(std::vector<float>(extra.begin(), extra.end()), torch::kFloat32));
  torch::Tensor bucket = torch::cat(pieces);
  if (comm.size() > 1) comm.allreduce(bucket, op);
  int64_t offset = 0;
  for (const auto& p : params) {
    torch::Tensor g = bucket.narrow(0, offset, p.numel()).view(p.sizes()).to(p.scalar_type());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(g);
    } else {
      p.mutable_grad() = g.clone();
    }
    offset += p.numel();
  }
  std::vector<double> out;
  for (size_t i = 0; i < extra.size(); ++i) out.push_back(bucket[offset + static_cast<int64_t>(i)].item<double>());
  return out;
}

bool gradients_finite(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params) {
    if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) return false;
  }
  return true;
}

}  // namespace ril::roles
