#include "ril/dist/local_communicator.h"

#include "ril/common/error.h"

namespace ril::dist {

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAvg: return "avg";
    case ReduceOp::kMax: return "max";
    case ReduceOp::kMin: return "min";
  }
  return "?";
}

void Communicator::send(const at::Tensor& tensor, int dst, int tag) {
  if (dst == rank()) {
    self_queue_[tag].push_back(tensor);
    return;
  }
  send_to_peer(tensor, dst, tag);
}

at::Tensor Communicator::recv(int src, int tag) {
  if (src != rank()) return recv_from_peer(src, tag);
  auto it = self_queue_.find(tag);
  // Another rank's message may still arrive; one's own cannot, so waiting would hang.
  RIL_CHECK(it != self_queue_.end() && !it->second.empty(), "communicator '", name(), "': rank ", rank(),
            " receives from itself with tag ", tag, " but sent nothing (send before recv when roles share a rank)");
  at::Tensor out = it->second.front();
  it->second.pop_front();
  return out;
}

void LocalCommunicator::send_to_peer(const at::Tensor&, int dst, int) {
  throw Error(cat("local communicator '", name(), "' has one rank; cannot send to rank ", dst));
}

at::Tensor LocalCommunicator::recv_from_peer(int src, int) {
  throw Error(cat("local communicator '", name(), "' has one rank; cannot receive from rank ", src));
}

void LocalCommunicator::broadcast(at::Tensor&, int root) {
  RIL_CHECK(root == 0, "local communicator '", name(), "': broadcast root ", root, " does not exist");
}

void LocalCommunicator::allreduce(at::Tensor& tensor, ReduceOp op) {
  RIL_CHECK(!(tensor.scalar_type() == at::kBool && (op == ReduceOp::kSum || op == ReduceOp::kAvg)),
            "allreduce ", reduce_op_name(op), " is not defined for bool tensors (use max or min)");
}

std::vector<at::Tensor> LocalCommunicator::gather(const at::Tensor& tensor, int root) {
  RIL_CHECK(root == 0, "local communicator '", name(), "': gather root ", root, " does not exist");
  return {tensor};
}

}  // namespace ril::dist
