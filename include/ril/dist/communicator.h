// Tensors between ranks: one interface, three implementations.
//   MpiCommunicator   - any ranks; CPU tensors directly, CUDA tensors staged through pinned host memory
//   NcclCommunicator  - ranks on distinct GPUs (built when RIL_WITH_CUDA)
//   LocalCommunicator - one rank (colocated roles): nothing is copied
// create_communicator() in communicator_factory.h picks one and logs why.
//
// Ranks here are the communicator's own (0..size-1), not world ranks. Every operation except
// send/recv is collective over the communicator's members. Supported dtypes: float32,
// float64, bfloat16, float16, int64, int32, uint8, bool; any shape (up to 8 dims), contiguous
// or not.
#pragma once

#include <ATen/ATen.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

namespace ril::dist {

enum class ReduceOp { kSum, kAvg, kMax, kMin };

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* backend() const = 0;  // "mpi", "nccl", "local"
  const std::string& name() const { return name_; }

  // Point to point. recv() learns dtype and shape from the message and returns a new tensor on
  // this communicator's device. Messages between one pair with one tag arrive in order. A rank
  // may send to itself (colocated roles inside a larger channel): the tensor is queued, not
  // copied, so the sender must not modify it afterwards.
  void send(const at::Tensor& tensor, int dst, int tag = 0);
  at::Tensor recv(int src, int tag = 0);

  // In place. Every rank passes a tensor of the same dtype and shape (checked: a mismatch
  // throws on the receivers with both shapes in the message).
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  // In place; bool tensors support kMax (any) and kMin (all) only. Half types are reduced in
  // float32 and rounded once. Integer sums wrap (uint8 mod 256); integer averages round down.
  virtual void allreduce(at::Tensor& tensor, ReduceOp op) = 0;
  // Every rank contributes one tensor (shapes may differ, dtypes must agree); the root gets all
  // of them in rank order, the others an empty vector.
  virtual std::vector<at::Tensor> gather(const at::Tensor& tensor, int root) = 0;
  virtual void barrier() = 0;

  // The sharded optimizer's collectives (dist/sharded_optimizer.h); float32 tensors, contiguous,
  // on this communicator's device, the same numel on every rank.
  // allgather: recv (numel size() * n) = every rank's `send` (numel n) in rank order.
  // reduce_scatter: recv (numel n) = block rank() of the sum over ranks of `send` (numel size() * n).
  // The defaults go through allreduce (allgather pads with -0.0, the exact identity of IEEE
  // addition, so the blocks arrive bitwise; reduce_scatter reduces everything and keeps a block),
  // correct everywhere at size() times the traffic; MpiCommunicator overrides both with MPI's own.
  virtual void allgather(const at::Tensor& send, at::Tensor& recv);
  virtual void reduce_scatter(const at::Tensor& send, at::Tensor& recv);

 protected:
  explicit Communicator(std::string name) : name_(std::move(name)) {}
  // Transfers to and from another rank (never this one).
  virtual void send_to_peer(const at::Tensor& tensor, int dst, int tag) = 0;
  virtual at::Tensor recv_from_peer(int src, int tag) = 0;

 private:
  std::string name_;
  std::map<int, std::deque<at::Tensor>> self_queue_;  // by tag
};

const char* reduce_op_name(ReduceOp op);

}  // namespace ril::dist
