#include "ril/roles/response_wire.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "ril/common/error.h"

namespace ril::roles {
namespace {

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, data_ + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  void bytes(void* dst, size_t n) {
    need(n);
    if (n > 0) std::memcpy(dst, data_ + at_, n);
    at_ += n;
  }
  bool done() const { return at_ == size_; }

 private:
  void need(size_t n) const {
    if (n > size_ - at_) throw Error(cat("response buffer truncated: need ", n, " bytes at offset ", at_, " of ", size_));
  }
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace

at::Tensor pack_responses(const std::vector<Response>& responses) {
  std::vector<uint8_t> out;
  for (const Response& r : responses) {
    put<int64_t>(out, r.question);
    put<int32_t>(out, r.sample);
    put<int32_t>(out, r.source);
    put<int32_t>(out, r.finished ? 1 : 0);
    put<int64_t>(out, static_cast<int64_t>(r.ids.size()));
    for (int64_t id : r.ids) put<int64_t>(out, id);
    put<int64_t>(out, static_cast<int64_t>(r.text.size()));
    out.insert(out.end(), r.text.begin(), r.text.end());
  }
  at::Tensor t = at::empty({static_cast<int64_t>(out.size())}, at::kByte);
  if (!out.empty()) std::memcpy(t.data_ptr<uint8_t>(), out.data(), out.size());
  return t;
}

std::vector<Response> unpack_responses(const at::Tensor& packed) {
  const at::Tensor bytes = packed.to(at::kCPU).contiguous();
  RIL_CHECK(bytes.scalar_type() == at::kByte && bytes.dim() == 1, "response buffer must be 1-D uint8");
  Reader in(bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()));
  std::vector<Response> out;
  while (!in.done()) {
    Response r;
    r.question = in.get<int64_t>();
    r.sample = in.get<int32_t>();
    r.source = in.get<int32_t>();
    r.finished = in.get<int32_t>() != 0;
    const int64_t n_ids = in.get<int64_t>();
    RIL_CHECK(n_ids >= 0 && n_ids < (int64_t{1} << 32), "response buffer: bad id count ", n_ids);
    r.ids.resize(static_cast<size_t>(n_ids));
    in.bytes(r.ids.data(), r.ids.size() * sizeof(int64_t));
    const int64_t n_bytes = in.get<int64_t>();
    RIL_CHECK(n_bytes >= 0 && n_bytes < (int64_t{1} << 34), "response buffer: bad text size ", n_bytes);
    r.text.resize(static_cast<size_t>(n_bytes));
    in.bytes(r.text.data(), r.text.size());
    out.push_back(std::move(r));
  }
  return out;
}

void sort_responses(std::vector<Response>& responses) {
  std::sort(responses.begin(), responses.end(), [](const Response& a, const Response& b) {
    return std::make_tuple(a.question, a.source, a.sample) < std::make_tuple(b.question, b.source, b.sample);
  });
}

std::vector<Response> gather_responses(dist::Communicator& comm, int root, const std::vector<Response>& mine) {
  std::vector<at::Tensor> parts = comm.gather(pack_responses(mine), root);
  std::vector<Response> all;
  if (comm.rank() != root) return all;
  for (const at::Tensor& part : parts) {
    std::vector<Response> got = unpack_responses(part);
    all.insert(all.end(), std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
  }
  sort_responses(all);
  return all;
}

void broadcast_responses(dist::Communicator& comm, int root, std::vector<Response>& responses) {
  if (comm.size() == 1) return;
  at::Tensor packed = comm.rank() == root ? pack_responses(responses) : at::Tensor();
  at::Tensor size = at::full({1}, comm.rank() == root ? packed.numel() : 0, at::kLong);
  comm.broadcast(size, root);
  if (comm.rank() != root) packed = at::empty({size.item<int64_t>()}, at::kByte);
  comm.broadcast(packed, root);
  if (comm.rank() != root) responses = unpack_responses(packed);
}

}  // namespace ril::roles
