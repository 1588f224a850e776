#include "ril/dist/nccl_communicator.h"

#include "ril/common/build_info.h"

#if RIL_WITH_CUDA

#include <cuda_runtime.h>
#include <nccl.h>

#include "mpi_check.h"
#include "mpi_communicator_impl.h"
#include "tensor_wire.h"

#define RIL_CUDA_CHECK(expr)                                                                          \
  do {                                                                                                \
    const cudaError_t ril_cuda_rc_ = (expr);                                                          \
    if (ril_cuda_rc_ != cudaSuccess)                                                                  \
      throw ::ril::Error(::ril::cat("CUDA call failed: ", cudaGetErrorString(ril_cuda_rc_), " [" #expr \
                                    " at ", __FILE__, ":", __LINE__, ", rank ", ::ril::error_rank(), "]")); \
  } while (0)

#define RIL_NCCL_CHECK(expr)                                                                          \
  do {                                                                                                \
    const ncclResult_t ril_nccl_rc_ = (expr);                                                         \
    if (ril_nccl_rc_ != ncclSuccess)                                                                  \
      throw ::ril::Error(::ril::cat("NCCL call failed: ", ncclGetErrorString(ril_nccl_rc_), " [" #expr \
                                    " at ", __FILE__, ":", __LINE__, ", rank ", ::ril::error_rank(), "]")); \
  } while (0)

namespace ril::dist {

struct NcclCommunicator::Impl {
  std::unique_ptr<MpiCommunicator::Impl> mpi;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  int device_index = 0;
};

namespace {

ncclDataType_t nccl_type(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kBFloat16: return ncclBfloat16;
    case at::kHalf: return ncclFloat16;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte:
    case at::kBool: return ncclUint8;  // bool is one byte; reduced as max/min only
    default: throw Error(cat("NCCL communicator does not carry dtype ", c10::toString(dtype)));
  }
}

// The tensor NCCL works on: contiguous, on this rank's GPU.
at::Tensor on_device(const at::Tensor& tensor, int device_index) {
  const at::Device device(at::kCUDA, static_cast<c10::DeviceIndex>(device_index));
  return tensor.device() == device ? tensor.contiguous() : tensor.to(device).contiguous();
}

}  // namespace

NcclCommunicator::NcclCommunicator(std::string name, std::unique_ptr<MpiCommunicator::Impl> mpi)
    : Communicator(std::move(name)), impl_(std::make_unique<Impl>()) {
  impl_->mpi = std::move(mpi);
  RIL_CHECK(impl_->mpi->device.is_cuda(), "NCCL communicator '", this->name(), "' needs a CUDA device");
  auto& m = *impl_->mpi;
  RIL_MPI_CHECK(MPI_Comm_set_errhandler(m.comm, MPI_ERRORS_RETURN));
  RIL_MPI_CHECK(MPI_Comm_rank(m.comm, &m.rank));
  RIL_MPI_CHECK(MPI_Comm_size(m.comm, &m.size));
  impl_->device_index = m.device.index();
  RIL_CUDA_CHECK(cudaSetDevice(impl_->device_index));
  ncclUniqueId id;
  if (m.rank == 0) RIL_NCCL_CHECK(ncclGetUniqueId(&id));
  RIL_MPI_CHECK(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, m.comm));
  RIL_NCCL_CHECK(ncclCommInitRank(&impl_->comm, m.size, id, m.rank));
  RIL_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
}

NcclCommunicator::~NcclCommunicator() {
  if (impl_->comm) ncclCommDestroy(impl_->comm);
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && impl_->mpi->comm != MPI_COMM_NULL) MPI_Comm_free(&impl_->mpi->comm);
}

int NcclCommunicator::rank() const { return impl_->mpi->rank; }
int NcclCommunicator::size() const { return impl_->mpi->size; }

namespace {
// Wait for whatever LibTorch queued on the device, run `op` on our stream, wait for it.
template <typename Op>
void run_on_stream(NcclCommunicator::Impl& impl, Op op) {
  RIL_CUDA_CHECK(cudaSetDevice(impl.device_index));
  RIL_CUDA_CHECK(cudaDeviceSynchronize());
  op();
  RIL_CUDA_CHECK(cudaStreamSynchronize(impl.stream));
}
}  // namespace

void NcclCommunicator::send_to_peer(const at::Tensor& tensor, int dst, int tag) {
  const detail::WireHeader header = detail::make_header(tensor);
  RIL_MPI_CHECK(MPI_Send(header.data(), detail::kWireHeaderLength, MPI_INT64_T, dst, tag, impl_->mpi->comm));
  const at::Tensor dev = on_device(tensor, impl_->device_index);
  if (dev.numel() == 0) return;
  run_on_stream(*impl_, [&] {
    RIL_NCCL_CHECK(ncclSend(dev.data_ptr(), dev.numel(), nccl_type(dev.scalar_type()), dst, impl_->comm, impl_->stream));
  });
}

at::Tensor NcclCommunicator::recv_from_peer(int src, int tag) {
  detail::WireHeader header{};
  RIL_MPI_CHECK(MPI_Recv(header.data(), detail::kWireHeaderLength, MPI_INT64_T, src, tag, impl_->mpi->comm,
                         MPI_STATUS_IGNORE));
  at::Tensor out = detail::empty_from_header(header, impl_->mpi->device);
  if (out.numel() == 0) return out;
  run_on_stream(*impl_, [&] {
    RIL_NCCL_CHECK(ncclRecv(out.data_ptr(), out.numel(), nccl_type(out.scalar_type()), src, impl_->comm, impl_->stream));
  });
  return out;
}

void NcclCommunicator::broadcast(at::Tensor& tensor, int root) {
  detail::WireHeader header = detail::make_header(tensor);
  const detail::WireHeader mine = header;
  RIL_MPI_CHECK(MPI_Bcast(header.data(), detail::kWireHeaderLength, MPI_INT64_T, root, impl_->mpi->comm));
  RIL_CHECK(header == mine, "communicator '", name(), "': broadcast from rank ", root, " sends ",
            detail::describe_header(header), " but rank ", rank(), " passed ", detail::describe_header(mine));
  at::Tensor dev = on_device(tensor, impl_->device_index);
  if (dev.numel() > 0) {
    run_on_stream(*impl_, [&] {
      RIL_NCCL_CHECK(ncclBroadcast(dev.data_ptr(), dev.data_ptr(), dev.numel(), nccl_type(dev.scalar_type()), root,
                                   impl_->comm, impl_->stream));
    });
  }
  if (!dev.is_same(tensor)) tensor.copy_(dev);
}

void NcclCommunicator::allreduce(at::Tensor& tensor, ReduceOp op) {
  at::Tensor dev = on_device(tensor, impl_->device_index);
  const bool is_bool = dev.scalar_type() == at::kBool;
  RIL_CHECK(!is_bool || op == ReduceOp::kMax || op == ReduceOp::kMin, "allreduce ", reduce_op_name(op),
            " is not defined for bool tensors (use max or min)");
  const bool floating = at::isFloatingType(dev.scalar_type());
  ncclRedOp_t nop = ncclSum;
  if (op == ReduceOp::kMax) nop = ncclMax;
  if (op == ReduceOp::kMin) nop = ncclMin;
  if (op == ReduceOp::kAvg && floating) nop = ncclAvg;
  if (dev.numel() > 0) {
    run_on_stream(*impl_, [&] {
      RIL_NCCL_CHECK(ncclAllReduce(dev.data_ptr(), dev.data_ptr(), dev.numel(), nccl_type(dev.scalar_type()), nop,
                                   impl_->comm, impl_->stream));
    });
  }
  if (op == ReduceOp::kAvg && !floating) dev.div_(size(), "floor");
  if (!dev.is_same(tensor)) tensor.copy_(dev);
}

std::vector<at::Tensor> NcclCommunicator::gather(const at::Tensor& tensor, int root) {
  const detail::WireHeader header = detail::make_header(tensor);
  const bool is_root = rank() == root;
  std::vector<int64_t> headers(is_root ? static_cast<size_t>(size()) * detail::kWireHeaderLength : 0);
  RIL_MPI_CHECK(MPI_Gather(header.data(), detail::kWireHeaderLength, MPI_INT64_T, headers.data(),
                           detail::kWireHeaderLength, MPI_INT64_T, root, impl_->mpi->comm));
  const at::Tensor dev = on_device(tensor, impl_->device_index);
  std::vector<at::Tensor> out;
  if (is_root) {
    for (int r = 0; r < size(); ++r) {
      detail::WireHeader h{};
      std::copy_n(headers.begin() + r * detail::kWireHeaderLength, detail::kWireHeaderLength, h.begin());
      RIL_CHECK(detail::header_dtype(h) == tensor.scalar_type(), "communicator '", name(), "': gather got ",
                detail::describe_header(h), " from rank ", r);
      out.push_back(r == root ? dev.clone() : detail::empty_from_header(h, impl_->mpi->device));
    }
  }
  run_on_stream(*impl_, [&] {
    RIL_NCCL_CHECK(ncclGroupStart());
    if (is_root) {
      for (int r = 0; r < size(); ++r) {
        if (r == root || out[r].numel() == 0) continue;
        RIL_NCCL_CHECK(ncclRecv(out[r].data_ptr(), out[r].numel(), nccl_type(out[r].scalar_type()), r, impl_->comm,
                                impl_->stream));
      }
    } else if (dev.numel() > 0) {
      RIL_NCCL_CHECK(ncclSend(dev.data_ptr(), dev.numel(), nccl_type(dev.scalar_type()), root, impl_->comm,
                              impl_->stream));
    }
    RIL_NCCL_CHECK(ncclGroupEnd());
  });
  return out;
}

void NcclCommunicator::barrier() { RIL_MPI_CHECK(MPI_Barrier(impl_->mpi->comm)); }

bool nccl_available() { return true; }

}  // namespace ril::dist

#else  // !RIL_WITH_CUDA

namespace ril::dist {
bool nccl_available() { return false; }
}  // namespace ril::dist

#endif
