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

namespace {

void check_shard_collective(const Communicator& comm, const char* what, const at::Tensor& send, const at::Tensor& recv,
                            int64_t send_blocks, int64_t recv_blocks) {
  RIL_CHECK(send.scalar_type() == at::kFloat && recv.scalar_type() == at::kFloat && send.is_contiguous() &&
                recv.is_contiguous() && send.numel() % send_blocks == 0 &&
                send.numel() / send_blocks * recv_blocks == recv.numel(),
            "communicator '", comm.name(), "': ", what, " takes contiguous float32 tensors of ", send_blocks,
            " x n and ", recv_blocks, " x n elements, got ", send.numel(), " (", c10::toString(send.scalar_type()),
            ") and ", recv.numel(), " (", c10::toString(recv.scalar_type()), ")");
}

}  // namespace

void Communicator::allgather(const at::Tensor& send, at::Tensor& recv) {
  check_shard_collective(*this, "allgather", send, recv, 1, size());
  // -0.0 + x == x bitwise for every x (+0.0 and -0.0 included): the sum puts each block in place.
  recv.fill_(-0.0);
  recv.narrow(0, rank() * send.numel(), send.numel()).copy_(send);
  allreduce(recv, ReduceOp::kSum);
}

void Communicator::reduce_scatter(const at::Tensor& send, at::Tensor& recv) {
  check_shard_collective(*this, "reduce_scatter", send, recv, size(), 1);
  at::Tensor all = send.clone();
  allreduce(all, ReduceOp::kSum);
  recv.copy_(all.narrow(0, rank() * recv.numel(), recv.numel()));
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
