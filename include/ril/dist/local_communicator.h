// A communicator of one rank, for roles colocated in one process: send() to itself queues the
// tensor (shared storage, no copy; see Communicator::send), and the collectives are identities.
#pragma once

#include "ril/dist/communicator.h"

namespace ril::dist {

class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(std::string name) : Communicator(std::move(name)) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* backend() const override { return "local"; }
  void broadcast(at::Tensor& tensor, int root) override;
  void allreduce(at::Tensor& tensor, ReduceOp op) override;
  std::vector<at::Tensor> gather(const at::Tensor& tensor, int root) override;
  void barrier() override {}

 private:
  void send_to_peer(const at::Tensor& tensor, int dst, int tag) override;
  at::Tensor recv_from_peer(int src, int tag) override;
};

}  // namespace ril::dist
