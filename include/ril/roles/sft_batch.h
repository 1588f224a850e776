// Supervised fine-tuning batches (Stage 0, DESIGN.md section 1): dataset examples -> teacher-forced
// model input, and the deterministic sampler that says which examples each learner rank takes.
//
// Prompt (ChatML, chat_template.h), one user turn and the generation prompt:
//   LLaVA:     <|im_start|>user\n<|vision_start|> N x <image> <|vision_end|>{question}<|im_end|>\n
//              <|im_start|>assistant\n
//   text-only: <|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n
// The N image placeholders (N = the model's num_image_tokens()) are inserted as ids
// (image_token_index of the model), not through the tokenizer, so a model whose placeholder id
// lies outside the tokenizer's vocabulary works too. Response: the reference rationale encoded
// with allow_special=false (dataset text never becomes a control token), then <|im_end|>;
// cut to max_response_tokens (then without <|im_end|>). Loss is on response tokens only.
//
// Padding: prompts LEFT-padded (sequence_logprobs' convention), responses RIGHT-padded, both with
// a 0/1 mask; pad id = the tokenizer's pad (else 0), never read.
//
// Images: uint8 HxWx3 -> float32 [N, 3, H, W], SigLIP normalisation (x / 255 - 0.5) / 0.5.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "ril/data/dataset.h"
#include "ril/text/bpe_tokenizer.h"
#include "ril/text/chat_template.h"

namespace ril::roles {

struct SftBatchOptions {
  bool with_image = true;          // LLaVA: image placeholders + pixel values; false: text only
  int64_t image_token_id = -1;     // the model's image_token_index (with_image)
  int64_t image_tokens = 0;        // placeholders per image (with_image)
  int64_t max_response_tokens = 128;
  std::string style = "terse";     // rationale style read from the dataset
};

struct SftBatch {
  torch::Tensor prompt_ids;      // [B, P] int64, left-padded
  torch::Tensor prompt_mask;     // [B, P] int64 0/1
  torch::Tensor response_ids;    // [B, R] int64, right-padded
  torch::Tensor response_mask;   // [B, R] int64 0/1
  torch::Tensor pixel_values;    // [B, 3, H, W] float32 (with_image), else undefined
  int64_t response_tokens = 0;   // sum of response_mask
  int64_t total_tokens = 0;      // real prompt + response tokens
};

class SftBatchBuilder {
 public:
  // Throws ConfigError when the tokenizer lacks <|im_start|> / <|im_end|>.
  SftBatchBuilder(const text::BpeTokenizer& tokenizer, SftBatchOptions options);
  // Prompt ids of one question (placeholders included).
  std::vector<int64_t> prompt_ids(const std::string& question) const;
  // Response ids of one rationale (<|im_end|> appended unless cut).
  std::vector<int64_t> response_ids(const std::string& rationale) const;
  // The batch of dataset examples `indices` (any order; row i is indices[i]).
  SftBatch build(const data::Dataset& dataset, const std::vector<int64_t>& indices) const;
  // Same prompts, given response ids (row i answers indices[i]; an index may repeat): the RL
  // learner's batch of sampled and teacher responses.
  SftBatch build_with_responses(const data::Dataset& dataset, const std::vector<int64_t>& indices,
                                const std::vector<std::vector<int64_t>>& responses) const;
  const SftBatchOptions& options() const { return options_; }

 private:
  const text::BpeTokenizer& tokenizer_;
  SftBatchOptions options_;
  text::ChatTemplate template_;
  int64_t im_end_ = 0, pad_ = 0;
};

// Which examples a step uses. The train split is read as an endless stream of epochs, each a
// permutation drawn from (seed, epoch) alone; global step s takes stream positions
// [s * G, (s + 1) * G), G = per_rank * ranks, and learner rank r the slice
// [s * G + r * per_rank, s * G + (r + 1) * per_rank). Stateless: a resumed run only needs s.
class SftSampler {
 public:
  SftSampler(std::vector<int64_t> pool, uint64_t seed, int64_t per_rank, int ranks);
  std::vector<int64_t> rank_batch(int64_t step, int rank) const;
  std::vector<int64_t> global_batch(int64_t step) const;  // all ranks' slices, in rank order
  int64_t epoch_of(int64_t step) const;                   // epoch of the step's first example

 private:
  const std::vector<int64_t>& permutation(int64_t epoch) const;
  std::vector<int64_t> pool_;
  uint64_t seed_;
  int64_t per_rank_;
  int ranks_;
  mutable std::vector<std::pair<int64_t, std::vector<int64_t>>> cache_;  // the last two epochs
};

}  // namespace ril::roles
