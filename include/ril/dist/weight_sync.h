// Model weights from the learner root to every rollout and discriminator rank (the kWeights
// channel): all parameters packed into a few flat byte buckets (never one message per
// parameter), preceded by a header {version, layout fingerprint, total bytes}. Receivers check
// that the fingerprint (names, dtypes, shapes) matches their own model and that versions only
// grow, so a stale or foreign broadcast fails loudly instead of loading wrong weights.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ril/dist/communicator.h"

namespace ril::dist {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct WeightSyncOptions {
  int64_t bucket_bytes = int64_t{32} << 20;  // 32 MiB: few messages, bounded staging memory
};

struct WeightSyncStats {
  int64_t version = 0;
  int64_t bytes = 0;
  int64_t buckets = 0;
  double seconds = 0.0;
};

// FNV-1a over names, dtypes and shapes: equal on two ranks iff their layouts agree.
uint64_t layout_fingerprint(const NamedTensors& tensors);

class WeightSync {
 public:
  // `tensors` are the model's parameters/buffers on this rank (contiguous; written in place on
  // receivers). `root` is the sender's rank in `comm`.
  WeightSync(Communicator& comm, int root, NamedTensors tensors, WeightSyncOptions options = {});

  // Collective over `comm`. On the root: sends its tensors as `version` (> every earlier one).
  // Elsewhere: receives them into the tensors, checks the version grew, returns what came.
  WeightSyncStats sync(int64_t version);
  int64_t last_version() const { return last_version_; }

 private:
  Communicator& comm_;
  int root_;
  NamedTensors tensors_;
  WeightSyncOptions options_;
  at::Tensor staging_;  // reused bucket buffer (allocated on the first sync)
  uint64_t fingerprint_;
  int64_t total_bytes_ = 0;
  int64_t last_version_ = -1;
};

}  // namespace ril::dist
