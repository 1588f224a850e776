#include "ril/model/kv_cache.h"

#include "ril/common/error.h"

namespace ril::model {

KVCache::KVCache(const KVCacheOptions& options) : options_(options) {
  RIL_CHECK(options.num_layers > 0 && options.batch_size > 0 && options.num_kv_heads > 0 &&
                options.head_dim > 0 && options.capacity > 0,
            "KVCache: every size must be > 0 (layers ", options.num_layers, ", batch ",
            options.batch_size, ", kv heads ", options.num_kv_heads, ", head dim ",
            options.head_dim, ", capacity ", options.capacity, ")");
  const std::vector<int64_t> shape = {options.batch_size, options.num_kv_heads, options.capacity,
                                      options.head_dim};
  // Uninitialised: attention reads positions [0, length) only, all written before (no memset of
  // the whole capacity; pages are touched as positions are written).
  for (int64_t i = 0; i < options.num_layers; ++i) {
    keys_.push_back(torch::empty(shape, options.tensor_options));
    values_.push_back(torch::empty(shape, options.tensor_options));
  }
}

std::pair<torch::Tensor, torch::Tensor> KVCache::update(int64_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  RIL_CHECK(layer >= 0 && layer < options_.num_layers, "KVCache: layer ", layer,
            " out of range [0, ", options_.num_layers, ")");
  TORCH_CHECK(k.dim() == 4 && k.size(0) == options_.batch_size &&
                  k.size(1) == options_.num_kv_heads && k.size(3) == options_.head_dim,
              "KVCache: keys must be [", options_.batch_size, ", ", options_.num_kv_heads,
              ", T, ", options_.head_dim, "], got ", k.sizes());
  TORCH_CHECK(v.sizes() == k.sizes(), "KVCache: values ", v.sizes(), " != keys ", k.sizes());
  const int64_t t = k.size(2);
  RIL_CHECK(length_ + t <= options_.capacity, "KVCache: ", length_, " + ", t,
            " tokens exceed the capacity ", options_.capacity);
  keys_[layer].narrow(2, length_, t).copy_(k);
  values_[layer].narrow(2, length_, t).copy_(v);
  return {keys_[layer].narrow(2, 0, length_ + t), values_[layer].narrow(2, 0, length_ + t)};
}

void KVCache::advance(int64_t tokens) {
  RIL_CHECK(length_ + tokens <= options_.capacity, "KVCache: advance past capacity");
  length_ += tokens;
}

}  // namespace ril::model
