// Key/value cache for incremental decoding: one preallocated [B, Hkv, capacity, Dh] buffer per
// layer for keys and one for values. A forward over T new tokens writes positions
// [length, length + T) of every layer and then advances `length` once (Qwen2ModelImpl does this).
// Rows of a batch share the cache positions: prompts are left-padded (see generator.h).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace ril::model {

struct KVCacheOptions {
  int64_t num_layers = 0;
  int64_t batch_size = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t capacity = 0;  // maximum total sequence length (prompt + new tokens)
  torch::TensorOptions tensor_options = torch::TensorOptions().dtype(torch::kFloat32);
};

class KVCache {
 public:
  explicit KVCache(const KVCacheOptions& options);

  int64_t length() const { return length_; }
  int64_t capacity() const { return options_.capacity; }
  int64_t batch_size() const { return options_.batch_size; }

  // Stores k, v [B, Hkv, T, Dh] at [length, length + T) of `layer` and returns the keys and
  // values of positions [0, length + T): views [B, Hkv, length + T, Dh]. Does not advance.
  std::pair<torch::Tensor, torch::Tensor> update(int64_t layer, const torch::Tensor& k,
                                                 const torch::Tensor& v);
  // The whole buffers of `layer`, [B, Hkv, capacity, Dh] (the one-token decode step writes its
  // position itself, then advances).
  const torch::Tensor& layer_keys(int64_t layer) const { return keys_.at(static_cast<size_t>(layer)); }
  const torch::Tensor& layer_values(int64_t layer) const { return values_.at(static_cast<size_t>(layer)); }
  // Called once per forward, after every layer has stored its T new positions.
  void advance(int64_t tokens);
  void reset() { length_ = 0; }

 private:
  KVCacheOptions options_;
  std::vector<torch::Tensor> keys_;    // per layer [B, Hkv, capacity, Dh]
  std::vector<torch::Tensor> values_;  // per layer [B, Hkv, capacity, Dh]
  int64_t length_ = 0;
};

}  // namespace ril::model
