// Next-token selection with HF generate's semantics and order:
//   repetition penalty -> temperature -> top-k -> top-p -> sample (or argmax when !do_sample).
// Filtered logits are -inf. Randomness comes only from the Sampler's own seeded generator
// (never the global RNG): one uniform per row per step, drawn on the CPU, so a seed gives the
// same tokens on any device for the same probabilities.
#pragma once

#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace ril::model {

struct SamplingOptions {
  bool do_sample = true;            // false: greedy (argmax after the repetition penalty)
  double temperature = 1.0;         // > 0; 1 = unchanged
  int64_t top_k = 0;                // 0 = off
  double top_p = 1.0;               // in (0, 1]; 1 = off
  double repetition_penalty = 1.0;  // >= 1 typically; 1 = off
  void validate() const;            // throws ril::ConfigError naming the field
};

// HF RepetitionPenaltyLogitsProcessor over tokens present in prompt + generated text:
// logits [B, V], presence [B, V] bool. Positive logits are divided, negative ones multiplied.
torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const torch::Tensor& presence,
                                       double penalty);
// HF TopKLogitsWarper: keeps logits >= the k-th largest (ties at the boundary kept).
torch::Tensor top_k_filter(const torch::Tensor& logits, int64_t k);
// HF TopPLogitsWarper: sorts ascending, removes tokens whose cumulative probability is
// <= 1 - top_p, always keeps the most likely token.
torch::Tensor top_p_filter(const torch::Tensor& logits, double top_p);
// All processors in HF order; logits [B, V] (any float dtype) -> float32 [B, V].
// presence may be undefined when repetition_penalty == 1.
torch::Tensor process_logits(const torch::Tensor& logits, const torch::Tensor& presence,
                             const SamplingOptions& options);

// A CPU generator seeded with `seed` (at::make_generator<at::CPUGeneratorImpl>).
at::Generator make_cpu_generator(uint64_t seed);

class Sampler {
 public:
  // `generator`: a CPU generator (make_cpu_generator); copies share state, so the caller's
  // handle advances too.
  Sampler(const SamplingOptions& options, at::Generator generator);
  const SamplingOptions& options() const { return options_; }
  // processed [B, V] float32 (output of process_logits) -> tokens [B] int64 (same device).
  // Inverse-CDF with one CPU uniform per row; a token of probability 0 is never chosen.
  torch::Tensor select(const torch::Tensor& processed);
  at::Generator& generator() { return generator_; }

 private:
  SamplingOptions options_;
  at::Generator generator_;
};

}  // namespace ril::model
