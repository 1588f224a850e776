// The one-token decode step of generate() (issue 17, item 3): after the prefill, every step feeds
// one token per row through the decoder with a KV cache. The generic path
// (Qwen2ModelImpl::forward with T = 1) spends ~100 small ATen calls per layer on masks, rotary
// angles, views, the grouped-query matmuls and the norms; this step does per layer:
//   RMSNorm kernel -> q/k/v GEMM (one, on fused weights) -> decode_attention kernel (rotary, cache
//   write, attention over the cache) -> o_proj GEMM with the residual added (addmm) -> RMSNorm
//   kernel -> gate/up GEMM (one, fused) -> silu, mul -> down GEMM with the residual (addmm),
// with the rotary angles looked up in a table made once per generation and the masks read from
// the prompt mask. It computes what the generic path computes (tests: tokens equal, logits within
// 1e-5 of the uncached oracle, float32).
//
// Fused weights: copies of [q; k; v] (and their biases) and [gate; up] per layer, kept in the
// model between generations (Qwen2ForCausalLMImpl::fused_weight_cache, not a parameter or buffer:
// state dicts, optimizers, checkpoints and dist::WeightSync see only the HF-named parameters) and
// refilled from the live parameters at the start of every generation: they cannot go stale
// whatever wrote the parameters (optimizer step, weight sync, load, .to(), raw pointers,
// InferenceMode, where autograd version counters are not always bumped). The refill copies the
// q/k/v and gate/up weights once per generate() call (~2 MB for the tiny preset, a fraction of a
// millisecond). Models whose copies would exceed FusedDecodeOptions::max_fused_weight_bytes run
// separate GEMMs on the parameters instead (no copy; for them a GEMM takes milliseconds anyway).
//
// Devices: CPU tensors use the kernels of decode_kernels.h; other devices (CUDA) use their ATen
// twins (same structure, fewer savings). Which ranks call: whoever generates (rollout, teacher,
// eval); single-threaded use of one model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "ril/model/kv_cache.h"
#include "ril/model/qwen2_decoder.h"

namespace ril::model {

struct FusedDecodeOptions {
  // CPU tensors: the kernels of decode_kernels.h; false (and every other device): their ATen twins.
  bool cpu_kernels = true;
  // Fused weight copies only while all of them take at most this many bytes (small models, where
  // the number of calls dominates a step); larger models: separate GEMMs on the parameters.
  int64_t max_fused_weight_bytes = int64_t{64} << 20;
};

struct FusedLayerWeights;

class FusedDecoder {
 public:
  // `cache` holds the prefilled prompt (cache.length() == P). prompt_mask [B, P] 0/1 of the
  // left-padded prompts. first_positions [B] int64: the RoPE position of generated token 0 of
  // each row (1-D RoPE: the row's real prompt tokens; explicit or M-RoPE prompt positions:
  // P + rope_delta; text tokens have three equal M-RoPE positions, i.e. 1-D RoPE).
  // max_new_tokens bounds the positions for the rotary table.
  FusedDecoder(Qwen2ForCausalLM& lm, KVCache& cache, const torch::Tensor& prompt_mask,
               const torch::Tensor& first_positions, int64_t max_new_tokens, const FusedDecodeOptions& options = {});
  ~FusedDecoder();

  // Feeds generated token n (0-based) of every row, next [B] int64, at cache position
  // cache.length(); advances the cache by one and returns the logits [B, V] float32 after it.
  torch::Tensor step(const torch::Tensor& next, int64_t n);

  bool uses_fused_weights() const { return fused_; }
  // Called after each part of a step with its name (bench_decode --breakdown); empty: none.
  void set_tick(std::function<void(const char* part)> tick) { tick_ = std::move(tick); }

  // Whether this step serves `lm` with inputs like `like` (dense, float32/bfloat16/float16).
  static bool supports(const Qwen2ForCausalLM& lm, const torch::Tensor& like);

 private:
  torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& weight) const;
  void tick(const char* part) const {
    if (tick_) tick_(part);
  }

  const Qwen2Config& config_;
  KVCache& cache_;
  FusedDecodeOptions options_;
  bool kernels_ = true;
  bool fused_ = false;
  std::vector<FusedLayerWeights> layers_;
  torch::Tensor embed_, head_t_, final_norm_;
  torch::Tensor prompt_mask_, table_rows_, cos_table_, sin_table_;
  int64_t table_start_ = 0;    // position of table row 0
  int64_t max_table_row_ = 0;  // largest table_rows_ entry
  std::function<void(const char*)> tick_;
};

// Frees the fused weight copies kept in `lm` (made again by the next generation).
void release_fused_weights(Qwen2ForCausalLM& lm);

}  // namespace ril::model
