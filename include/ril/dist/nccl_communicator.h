// NCCL implementation of Communicator, for ranks on distinct GPUs (NCCL refuses two ranks of
// one communicator on the same device). Compiled when RIL_WITH_CUDA; the factory never builds
// it otherwise. Uses the CUDA runtime and NCCL only (no LibTorch CUDA headers): each operation
// waits for the device to be idle, runs on the communicator's own stream and waits for it, so
// it is correct whichever stream LibTorch used to produce the tensor. Dtype and shape travel
// ahead over the MPI bootstrap communicator, as in MpiCommunicator. CPU tensors are copied to
// this rank's GPU and back.
#pragma once

#include <memory>

#include "ril/dist/mpi_communicator.h"

namespace ril::dist {

class NcclCommunicator final : public Communicator {
 public:
  struct Impl;  // defined in src/dist/nccl_communicator.cpp
  // Collective over the members of the MPI communicator inside `mpi` (taken over, used for
  // the NCCL bootstrap and the dtype/shape headers); `mpi->device` must be a CUDA device.
  NcclCommunicator(std::string name, std::unique_ptr<MpiCommunicator::Impl> mpi);
  ~NcclCommunicator() override;

  int rank() const override;
  int size() const override;
  const char* backend() const override { return "nccl"; }
  void broadcast(at::Tensor& tensor, int root) override;
  void allreduce(at::Tensor& tensor, ReduceOp op) override;
  std::vector<at::Tensor> gather(const at::Tensor& tensor, int root) override;
  void barrier() override;

 private:
  void send_to_peer(const at::Tensor& tensor, int dst, int tag) override;
  at::Tensor recv_from_peer(int src, int tag) override;
  std::unique_ptr<Impl> impl_;
};

// True when this build has the NCCL communicator.
bool nccl_available();

}  // namespace ril::dist
