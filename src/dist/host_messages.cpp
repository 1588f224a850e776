#include "ril/dist/host_messages.h"

#include <cstring>

#include "ril/common/error.h"

namespace ril::dist {
namespace {

// Point-to-point host messages use this tag; nothing else in ril sends with it.
constexpr int kRelayTag = 7001;

at::Tensor byte_tensor(const std::string& bytes) {
  at::Tensor t = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  if (!bytes.empty()) std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

std::string tensor_bytes(const at::Tensor& tensor) {
  const at::Tensor t = tensor.to(at::kCPU).contiguous();
  RIL_CHECK(t.scalar_type() == at::kByte && t.dim() == 1, "host message must be 1-D uint8, got ",
            c10::toString(t.scalar_type()), " with ", t.dim(), " dims");
  return std::string(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()), static_cast<size_t>(t.numel()));
}

}  // namespace

std::string broadcast_bytes(Communicator& comm, const std::string& bytes, int root) {
  if (comm.size() == 1) return bytes;
  const bool is_root = comm.rank() == root;
  at::Tensor length = at::full({1}, is_root ? static_cast<int64_t>(bytes.size()) : int64_t{0}, at::kLong);
  comm.broadcast(length, root);
  const int64_t n = length.item<int64_t>();
  if (n == 0) return {};
  at::Tensor payload = is_root ? byte_tensor(bytes) : at::empty({n}, at::kByte);
  comm.broadcast(payload, root);
  return is_root ? bytes : tensor_bytes(payload);
}

std::vector<std::string> gather_bytes(Communicator& comm, const std::string& mine, int root) {
  const std::vector<at::Tensor> parts = comm.gather(byte_tensor(mine), root);
  std::vector<std::string> out;
  if (comm.rank() != root) return out;
  for (const at::Tensor& part : parts) out.push_back(tensor_bytes(part));
  return out;
}

std::string relay_bytes(Communicator& comm, const std::string& bytes, int from, int to) {
  if (from == to) return bytes;
  if (comm.rank() == from) {
    comm.send(byte_tensor(bytes), to, kRelayTag);
    return {};
  }
  RIL_CHECK(comm.rank() == to, "relay_bytes on communicator '", comm.name(), "': rank ", comm.rank(),
            " is neither the sender ", from, " nor the receiver ", to);
  return tensor_bytes(comm.recv(from, kRelayTag));
}

std::vector<std::string> broadcast_texts(Communicator& comm, const std::vector<std::string>& texts, int root) {
  if (comm.size() == 1) return texts;
  return unpack_texts(broadcast_bytes(comm, comm.rank() == root ? pack_texts(texts) : std::string(), root));
}

std::vector<double> allreduce_values(Communicator& comm, const std::vector<double>& values, ReduceOp op) {
  if (comm.size() == 1 || values.empty()) return values;
  at::Tensor t = at::empty({static_cast<int64_t>(values.size())}, at::kDouble);
  std::memcpy(t.data_ptr<double>(), values.data(), values.size() * sizeof(double));
  comm.allreduce(t, op);
  const double* p = t.data_ptr<double>();
  return std::vector<double>(p, p + values.size());
}

}  // namespace ril::dist
