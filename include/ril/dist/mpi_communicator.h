// MPI implementation of Communicator over an MPI communicator that it owns (freed on
// destruction). CUDA tensors are staged through pinned host buffers (correct for ranks that
// share a GPU, where NCCL cannot run). mpi.h stays out of this header.
#pragma once

#include <memory>

#include "ril/dist/communicator.h"

namespace ril::dist {

class MpiCommunicator final : public Communicator {
 public:
  struct Impl;  // holds the MPI_Comm; defined in src/dist/mpi_communicator_impl.h
  // Built by create_communicator(); takes over the MPI communicator inside `impl`.
  MpiCommunicator(std::string name, std::unique_ptr<Impl> impl);
  ~MpiCommunicator() override;

  int rank() const override;
  int size() const override;
  const char* backend() const override { return "mpi"; }
  void broadcast(at::Tensor& tensor, int root) override;
  void allreduce(at::Tensor& tensor, ReduceOp op) override;
  std::vector<at::Tensor> gather(const at::Tensor& tensor, int root) override;
  void allgather(const at::Tensor& send, at::Tensor& recv) override;           // MPI_Allgather
  void reduce_scatter(const at::Tensor& send, at::Tensor& recv) override;      // MPI_Reduce_scatter_block
  void barrier() override;

 private:
  void send_to_peer(const at::Tensor& tensor, int dst, int tag) override;
  at::Tensor recv_from_peer(int src, int tag) override;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ril::dist
