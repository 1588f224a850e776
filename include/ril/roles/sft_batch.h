// Supervised fine-tuning batches (Stage 0, DESIGN.md section 1): dataset examples -> teacher-forced
// model input, and the deterministic sampler that says which examples each learner rank takes.
//
// Prompt (ChatML, chat_template.h), one user turn and the generation prompt:
//   with images: <|im_start|>user\n{start} N x <image> {end}{question}<|im_end|>\n<|im_start|>assistant\n
//   text-only:   <|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n
// The N image placeholders (N = the model's num_image_tokens at the dataset's image size) are
// inserted as ids (the model's image_token_id), not through the tokenizer, so a model whose
// placeholder id lies outside the tokenizer's vocabulary works too. The markers {start}/{end} are
// the family's (model_batch_options): "<|vision_start|>"/"<|vision_end|>" for Qwen2.5-VL and
// for ril's LLaVA, "<img>"/"</img>\n" for InternVL; one the tokenizer lacks as a token is left
// out. Response: the reference rationale encoded with allow_special=false (dataset text never
// becomes a control token), then <|im_end|>; cut to max_response_tokens (then without
// <|im_end|>). Loss is on response tokens only.
//
// Padding: prompts LEFT-padded (sequence_logprobs' convention), responses RIGHT-padded, both with
// a 0/1 mask; pad id = the tokenizer's pad (else 0), never read.
//
// Images: the dataset's uint8 HxWx3 images, preprocessed by the model's family
// (model::preprocess_images: SigLIP (x / 255 - 0.5) / 0.5 for LLaVA, dynamic resolution for
// Qwen2.5-VL, tiles for InternVL), in row order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "ril/data/dataset.h"
#include "ril/model/image_inputs.h"
#include "ril/model/model_config.h"
#include "ril/text/bpe_tokenizer.h"
#include "ril/text/chat_template.h"

namespace ril::roles {

struct SftBatchOptions {
  bool with_image = true;          // image placeholders + preprocessed images; false: text only
  int64_t image_token_id = -1;     // the model's image token id (with_image)
  int64_t image_tokens = 0;        // placeholders per image (with_image; dataset images share a size)
  std::string image_start = "<|vision_start|>";  // markers around the placeholders (with_image);
  std::string image_end = "<|vision_end|>";      // left out when the tokenizer lacks them
  model::ModelConfig image_model;  // whose preprocess_images turns images into model input (with_image)
  int64_t max_response_tokens = 128;
  std::string style = "terse";     // rationale style read from the dataset
};

// The batch layout of `config`'s model on images of image_height x image_width: text only, or the
// family's placeholders (its image token id, num_image_tokens at that size), markers and image
// preprocessing. ConfigError (naming the size) when the family cannot take such images.
SftBatchOptions model_batch_options(const model::ModelConfig& config, int64_t image_height, int64_t image_width);

// The tokenizer's id of the image placeholder a model should use: the family's own token
// (<|image_pad|> for Qwen2.5-VL, <IMG_CONTEXT> for InternVL), else ril's <|image_pad|>; none when
// the tokenizer has neither.
std::optional<int32_t> tokenizer_image_token(const model::ModelConfig& config, const text::BpeTokenizer& tokenizer);
// ConfigError starting with `who` when the model's image token id is an ordinary token of the
// tokenizer (it must lie outside the tokenizer's vocabulary or be its image token).
void check_image_token(const model::ModelConfig& config, const text::BpeTokenizer& tokenizer, const std::string& who);

struct SftBatch {
  torch::Tensor prompt_ids;      // [B, P] int64, left-padded
  torch::Tensor prompt_mask;     // [B, P] int64 0/1
  torch::Tensor response_ids;    // [B, R] int64, right-padded
  torch::Tensor response_mask;   // [B, R] int64 0/1
  model::ImageInputs images;     // row i's image is image i (with_image), else undefined
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
  // The preprocessed images of dataset examples `indices`, in order (with_image).
  model::ImageInputs images(const data::Dataset& dataset, const std::vector<int64_t>& indices) const;
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
