// Next-token selection with HF generate's semantics and order:
//   repetition penalty -> temperature -> top-k -> top-p -> sample (or argmax when !do_sample).
// Filtered logits are -inf. Randomness comes only from the Sampler's own seeded generators
// (never the global RNG): one uniform per row per step, drawn on the CPU, so a seed gives the
// same tokens on any device for the same probabilities. The generators are either one shared by
// the batch (row 0's uniform first, then row 1's, ...) or one per row (row i's uniforms from
// generator i alone, so a row draws what it draws alone: ril teach's per-response seeds, whatever
// the batch size).
#pragma once

#include <cstdint>
#include <vector>

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

// The CPU generators (make_cpu_generator) a Sampler draws from; copies of a generator share its
// state, so the caller's handles advance too. Implicit from one generator (shared by the batch)
// or from a vector of them (one per row, in row order).
class SamplingGenerators {
 public:
  SamplingGenerators(at::Generator shared);                // NOLINT(google-explicit-constructor)
  SamplingGenerators(std::vector<at::Generator> per_row);  // NOLINT(google-explicit-constructor)
  bool per_row() const { return per_row_; }
  // [rows, 1] float64 CPU uniforms in [0, 1): shared, torch::rand({rows, 1}); per row, row i's
  // from generator i by torch::rand({1, 1}) (what a batch of one draws from the same generator).
  // Per row, `rows` must equal the number of generators.
  torch::Tensor uniforms(int64_t rows);

 private:
  std::vector<at::Generator> generators_;
  bool per_row_ = false;
};

class Sampler {
 public:
  Sampler(const SamplingOptions& options, SamplingGenerators generators);
  const SamplingOptions& options() const { return options_; }
  // processed [B, V] float32 (output of process_logits) -> tokens [B] int64 (same device).
  // Inverse-CDF with one CPU uniform per row; a token of probability 0 is never chosen.
  torch::Tensor select(const torch::Tensor& processed);

 private:
  SamplingOptions options_;
  SamplingGenerators generators_;
};

}  // namespace ril::model
