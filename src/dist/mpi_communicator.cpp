#include "ril/dist/mpi_communicator.h"

#include <algorithm>
#include <climits>

#include "mpi_check.h"
#include "mpi_communicator_impl.h"
#include "tensor_wire.h"

namespace ril::dist {

namespace detail {
void throw_mpi_error(int code, const char* expr, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(cat("MPI call failed: ", text, " [", expr, " at ", file, ":", line, ", rank ", error_rank(), "]"));
}
}  // namespace detail

namespace {

// MPI counts are int: move large buffers in pieces of at most 1 GiB.
constexpr int64_t kMaxMessageBytes = int64_t{1} << 30;

// The host copy that MPI reads from or writes to. CPU contiguous tensors are used as they are;
// CUDA tensors go through pinned memory so that the device copy runs at full speed.
at::Tensor host_staging(const at::Tensor& tensor) {
  if (tensor.device().is_cpu()) return tensor.contiguous();
  at::Tensor pinned = at::empty(tensor.sizes(), tensor.options().device(at::kCPU).pinned_memory(true));
  pinned.copy_(tensor);
  return pinned;
}

// Writes `host` back into `tensor` when they are not the same memory.
void unstage(at::Tensor& tensor, const at::Tensor& host) {
  if (!tensor.is_same(host)) tensor.copy_(host);
}

MPI_Datatype mpi_type(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    case at::kBool: return MPI_C_BOOL;
    default: return MPI_DATATYPE_NULL;  // half types: reduced in float32 instead
  }
}

MPI_Op mpi_op(ReduceOp op, at::ScalarType dtype) {
  if (dtype == at::kBool) {
    RIL_CHECK(op == ReduceOp::kMax || op == ReduceOp::kMin, "allreduce ", reduce_op_name(op),
              " is not defined for bool tensors (use max for any, min for all)");
    return op == ReduceOp::kMax ? MPI_LOR : MPI_LAND;
  }
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

void send_bytes(const void* data, int64_t bytes, int dst, int tag, MPI_Comm comm) {
  const char* p = static_cast<const char*>(data);
  do {
    const int piece = static_cast<int>(std::min(bytes, kMaxMessageBytes));
    RIL_MPI_CHECK(MPI_Send(p, piece, MPI_BYTE, dst, tag, comm));
    p += piece;
    bytes -= piece;
  } while (bytes > 0);
}

void recv_bytes(void* data, int64_t bytes, int src, int tag, MPI_Comm comm) {
  char* p = static_cast<char*>(data);
  do {
    const int piece = static_cast<int>(std::min(bytes, kMaxMessageBytes));
    RIL_MPI_CHECK(MPI_Recv(p, piece, MPI_BYTE, src, tag, comm, MPI_STATUS_IGNORE));
    p += piece;
    bytes -= piece;
  } while (bytes > 0);
}

void bcast_bytes(void* data, int64_t bytes, int root, MPI_Comm comm) {
  char* p = static_cast<char*>(data);
  do {
    const int piece = static_cast<int>(std::min(bytes, kMaxMessageBytes));
    RIL_MPI_CHECK(MPI_Bcast(p, piece, MPI_BYTE, root, comm));
    p += piece;
    bytes -= piece;
  } while (bytes > 0);
}

}  // namespace

MpiCommunicator::MpiCommunicator(std::string name, std::unique_ptr<Impl> impl)
    : Communicator(std::move(name)), impl_(std::move(impl)) {
  RIL_MPI_CHECK(MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN));
  RIL_MPI_CHECK(MPI_Comm_rank(impl_->comm, &impl_->rank));
  RIL_MPI_CHECK(MPI_Comm_size(impl_->comm, &impl_->size));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && impl_->comm != MPI_COMM_NULL && impl_->comm != MPI_COMM_WORLD) MPI_Comm_free(&impl_->comm);
}

int MpiCommunicator::rank() const { return impl_->rank; }
int MpiCommunicator::size() const { return impl_->size; }

void MpiCommunicator::send_to_peer(const at::Tensor& tensor, int dst, int tag) {
  RIL_CHECK(dst >= 0 && dst < impl_->size, "communicator '", name(),
            "': bad destination rank ", dst, " (size ", impl_->size, ", self ", impl_->rank, ")");
  const detail::WireHeader header = detail::make_header(tensor);
  RIL_MPI_CHECK(MPI_Send(header.data(), detail::kWireHeaderLength, MPI_INT64_T, dst, tag, impl_->comm));
  const at::Tensor host = host_staging(tensor);
  if (host.nbytes() > 0) send_bytes(host.data_ptr(), static_cast<int64_t>(host.nbytes()), dst, tag, impl_->comm);
}

at::Tensor MpiCommunicator::recv_from_peer(int src, int tag) {
  RIL_CHECK(src >= 0 && src < impl_->size, "communicator '", name(),
            "': bad source rank ", src, " (size ", impl_->size, ", self ", impl_->rank, ")");
  detail::WireHeader header{};
  RIL_MPI_CHECK(MPI_Recv(header.data(), detail::kWireHeaderLength, MPI_INT64_T, src, tag, impl_->comm,
                         MPI_STATUS_IGNORE));
  at::Tensor host = detail::empty_from_header(header, at::kCPU);
  if (host.nbytes() > 0) recv_bytes(host.data_ptr(), static_cast<int64_t>(host.nbytes()), src, tag, impl_->comm);
  return impl_->device.is_cpu() ? host : host.to(impl_->device);
}

void MpiCommunicator::broadcast(at::Tensor& tensor, int root) {
  RIL_CHECK(root >= 0 && root < impl_->size, "communicator '", name(), "': bad broadcast root ", root);
  // The root's header goes first so that a receiver with another shape fails loudly instead of
  // reading garbage or hanging on a size mismatch.
  detail::WireHeader header = detail::make_header(tensor);
  const detail::WireHeader mine = header;
  RIL_MPI_CHECK(MPI_Bcast(header.data(), detail::kWireHeaderLength, MPI_INT64_T, root, impl_->comm));
  RIL_CHECK(header == mine, "communicator '", name(), "': broadcast from rank ", root, " sends ",
            detail::describe_header(header), " but rank ", impl_->rank, " passed ", detail::describe_header(mine));
  at::Tensor host = host_staging(tensor);
  if (host.nbytes() > 0) bcast_bytes(host.data_ptr(), static_cast<int64_t>(host.nbytes()), root, impl_->comm);
  unstage(tensor, host);
}

void MpiCommunicator::allreduce(at::Tensor& tensor, ReduceOp op) {
  const bool half = tensor.scalar_type() == at::kBFloat16 || tensor.scalar_type() == at::kHalf;
  // OpenMPI 4.1's AVX reduction saturates uint8 sums (255 + 1 = 255), unlike C and NCCL, which
  // wrap: sum bytes in int64 and let the cast back wrap.
  const bool widen = tensor.scalar_type() == at::kByte && (op == ReduceOp::kSum || op == ReduceOp::kAvg);
  at::Tensor host = host_staging(tensor);
  at::Tensor work = half ? host.to(at::kFloat) : widen ? host.to(at::kLong) : host;
  const MPI_Datatype type = mpi_type(work.scalar_type());
  RIL_CHECK(type != MPI_DATATYPE_NULL, "allreduce does not support dtype ", c10::toString(tensor.scalar_type()));
  const MPI_Op mop = mpi_op(op, work.scalar_type());
  RIL_CHECK(work.numel() <= INT_MAX, "allreduce of ", work.numel(), " elements exceeds MPI's int count");
  if (work.numel() > 0) {
    RIL_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, work.data_ptr(), static_cast<int>(work.numel()), type, mop, impl_->comm));
  }
  if (op == ReduceOp::kAvg) {
    if (at::isFloatingType(work.scalar_type())) {
      work.div_(impl_->size);
    } else {
      work.div_(impl_->size, "floor");  // integer average rounds down, like NCCL's
    }
  }
  if (!work.is_same(host)) host.copy_(work);
  unstage(tensor, host);
}

void MpiCommunicator::allgather(const at::Tensor& send, at::Tensor& recv) {
  RIL_CHECK(send.scalar_type() == at::kFloat && recv.scalar_type() == at::kFloat && recv.is_contiguous() &&
                recv.numel() == send.numel() * impl_->size && send.numel() <= INT_MAX,
            "communicator '", name(), "': allgather takes float32 n and size x n elements, got ", send.numel(), " and ",
            recv.numel());
  const at::Tensor host_send = host_staging(send);
  at::Tensor host_recv = host_staging(recv);
  RIL_MPI_CHECK(MPI_Allgather(host_send.data_ptr(), static_cast<int>(send.numel()), MPI_FLOAT, host_recv.data_ptr(),
                              static_cast<int>(send.numel()), MPI_FLOAT, impl_->comm));
  unstage(recv, host_recv);
}

void MpiCommunicator::reduce_scatter(const at::Tensor& send, at::Tensor& recv) {
  RIL_CHECK(send.scalar_type() == at::kFloat && recv.scalar_type() == at::kFloat && recv.is_contiguous() &&
                send.numel() == recv.numel() * impl_->size && recv.numel() <= INT_MAX,
            "communicator '", name(), "': reduce_scatter takes float32 size x n and n elements, got ", send.numel(),
            " and ", recv.numel());
  const at::Tensor host_send = host_staging(send);
  at::Tensor host_recv = host_staging(recv);
  RIL_MPI_CHECK(MPI_Reduce_scatter_block(host_send.data_ptr(), host_recv.data_ptr(), static_cast<int>(recv.numel()),
                                         MPI_FLOAT, MPI_SUM, impl_->comm));
  unstage(recv, host_recv);
}

std::vector<at::Tensor> MpiCommunicator::gather(const at::Tensor& tensor, int root) {
  RIL_CHECK(root >= 0 && root < impl_->size, "communicator '", name(), "': bad gather root ", root);
  const detail::WireHeader header = detail::make_header(tensor);
  const bool is_root = impl_->rank == root;
  std::vector<int64_t> headers(is_root ? static_cast<size_t>(impl_->size) * detail::kWireHeaderLength : 0);
  RIL_MPI_CHECK(MPI_Gather(header.data(), detail::kWireHeaderLength, MPI_INT64_T, headers.data(),
                           detail::kWireHeaderLength, MPI_INT64_T, root, impl_->comm));
  const at::Tensor host = host_staging(tensor);
  RIL_CHECK(host.nbytes() <= static_cast<size_t>(INT_MAX), "gather of ", host.nbytes(),
            " bytes from one rank exceeds MPI's int count");
  std::vector<at::Tensor> out;
  std::vector<int> counts, displs;
  at::Tensor flat;
  if (is_root) {
    int64_t total = 0;
    for (int r = 0; r < impl_->size; ++r) {
      detail::WireHeader h{};
      std::copy_n(headers.begin() + r * detail::kWireHeaderLength, detail::kWireHeaderLength, h.begin());
      RIL_CHECK(detail::header_dtype(h) == tensor.scalar_type(), "communicator '", name(), "': gather got ",
                detail::describe_header(h), " from rank ", r, " but the root has dtype ",
                c10::toString(tensor.scalar_type()));
      out.push_back(detail::empty_from_header(h, at::kCPU));
      counts.push_back(static_cast<int>(out.back().nbytes()));
      displs.push_back(static_cast<int>(total));
      total += counts.back();
      RIL_CHECK(total <= INT_MAX, "gather of ", total, " bytes exceeds MPI's int count");
    }
    flat = at::empty({total}, at::TensorOptions().dtype(at::kByte));
  }
  RIL_MPI_CHECK(MPI_Gatherv(host.data_ptr(), static_cast<int>(host.nbytes()), MPI_BYTE,
                            is_root ? flat.data_ptr() : nullptr, counts.data(), displs.data(), MPI_BYTE, root,
                            impl_->comm));
  for (size_t r = 0; r < out.size(); ++r) {
    if (counts[r] > 0) std::memcpy(out[r].data_ptr(), flat.data_ptr<uint8_t>() + displs[r], counts[r]);
    if (!impl_->device.is_cpu()) out[r] = out[r].to(impl_->device);
  }
  return out;
}

void MpiCommunicator::barrier() { RIL_MPI_CHECK(MPI_Barrier(impl_->comm)); }

}  // namespace ril::dist
