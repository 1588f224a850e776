#include "ril/dist/weight_sync.h"

#include <ATen/core/grad_mode.h>

#include <chrono>

#include "ril/common/error.h"

namespace ril::dist {

uint64_t layout_fingerprint(const NamedTensors& tensors) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      hash ^= p[i];
      hash *= 1099511628211ull;
    }
  };
  for (const auto& [name, tensor] : tensors) {
    mix(name.data(), name.size());
    const std::string dtype = c10::toString(tensor.scalar_type());
    mix(dtype.data(), dtype.size());
    for (int64_t d : tensor.sizes()) mix(&d, sizeof d);
  }
  return hash;
}

WeightSync::WeightSync(Communicator& comm, int root, NamedTensors tensors, WeightSyncOptions options)
    : comm_(comm), root_(root), tensors_(std::move(tensors)), options_(options) {
  RIL_CHECK(options_.bucket_bytes > 0, "weight sync bucket size must be positive");
  for (const auto& [name, tensor] : tensors_) {
    RIL_CHECK(tensor.is_contiguous(), "weight sync needs contiguous tensors; '", name, "' is not");
    total_bytes_ += static_cast<int64_t>(tensor.nbytes());
  }
  fingerprint_ = layout_fingerprint(tensors_);
}

WeightSyncStats WeightSync::sync(int64_t version) {
  const auto start = std::chrono::steady_clock::now();
  at::NoGradGuard no_grad;
  const bool is_root = comm_.rank() == root_;
  if (comm_.size() == 1) {  // colocated: the one rank already holds the weights
    RIL_CHECK(version > last_version_, "weight sync: version ", version, " is not newer than ", last_version_);
    last_version_ = version;
    WeightSyncStats stats;
    stats.version = version;
    return stats;
  }
  const at::Device device = tensors_.empty() ? at::Device(at::kCPU) : tensors_.front().second.device();

  at::Tensor header = at::empty({3}, at::TensorOptions().dtype(at::kLong));
  if (is_root) {
    header[0] = version;
    header[1] = static_cast<int64_t>(fingerprint_);
    header[2] = total_bytes_;
  }
  comm_.broadcast(header, root_);
  const int64_t got_version = header[0].item<int64_t>();
  const auto got_fingerprint = static_cast<uint64_t>(header[1].item<int64_t>());
  std::string problem;
  if (got_fingerprint != fingerprint_) {
    problem = cat("the sender's model layout (", header[2].item<int64_t>(), " bytes, fingerprint ", got_fingerprint,
                  ") differs from this rank's (", total_bytes_, " bytes, fingerprint ", fingerprint_,
                  "): the models were built from different configs");
  } else if (got_version <= last_version_) {
    problem = cat(is_root ? "sending" : "received", " version ", got_version, " after version ", last_version_,
                  " (versions must grow)");
  }
  // Agree before moving any bucket, so that a receiver that refuses does not leave the
  // others blocked in a broadcast.
  at::Tensor ok = at::full({1}, problem.empty() ? 1 : 0, at::TensorOptions().dtype(at::kInt).device(device));
  comm_.allreduce(ok, ReduceOp::kMin);
  if (ok.item<int>() == 0) {
    throw Error(cat("weight sync on '", comm_.name(), "' refused at version ", got_version, ": ",
                    problem.empty() ? "another rank of the channel found a mismatch" : problem));
  }

  // The byte stream is the tensors' bytes back to back; bucket b carries stream bytes
  // [b*bucket, (b+1)*bucket). A tensor may span buckets, so each bucket copies the overlapping
  // part of every tensor it touches.
  std::vector<at::Tensor> bytes;  // byte views of the tensors, in stream order
  bytes.reserve(tensors_.size());
  for (auto& entry : tensors_) bytes.push_back(entry.second.detach().view(-1).view(at::kByte));
  // Calls fn(part of the tensor, part of the bucket) for each tensor overlapping the bucket.
  auto for_each_overlap = [&bytes](const at::Tensor& bucket, int64_t begin, auto&& fn) {
    const int64_t end = begin + bucket.numel();
    int64_t offset = 0;  // stream offset of the current tensor
    for (const at::Tensor& t : bytes) {
      const int64_t t_begin = offset;
      offset += t.numel();
      const int64_t lo = std::max(t_begin, begin), hi = std::min(offset, end);
      if (lo < hi) fn(t.narrow(0, lo - t_begin, hi - lo), bucket.narrow(0, lo - begin, hi - lo));
    }
  };
  int64_t buckets = 0;
  for (int64_t begin = 0; begin < total_bytes_; begin += options_.bucket_bytes, ++buckets) {
    const int64_t size = std::min(total_bytes_ - begin, options_.bucket_bytes);
    // One staging buffer for every bucket of every sync: fresh pages cost a fault each on
    // first touch (measured 13-28 us per 4 KiB on the CPU VM: 0.05 GB/s with a new bucket each time).
    if (!staging_.defined() || staging_.numel() < size || staging_.device() != device) {
      staging_ = at::empty({std::min(total_bytes_, options_.bucket_bytes)}, at::TensorOptions().dtype(at::kByte).device(device));
    }
    at::Tensor bucket = staging_.narrow(0, 0, size);
    if (is_root) for_each_overlap(bucket, begin, [](const at::Tensor& t, at::Tensor b) { b.copy_(t); });
    comm_.broadcast(bucket, root_);
    if (!is_root) for_each_overlap(bucket, begin, [](at::Tensor t, const at::Tensor& b) { t.copy_(b); });
  }
  last_version_ = got_version;
  WeightSyncStats stats;
  stats.version = got_version;
  stats.bytes = total_bytes_;
  stats.buckets = buckets;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace ril::dist
