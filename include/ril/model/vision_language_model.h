// What every vision-language family offers the code that generates and trains with it, so that a
// caller never needs to know which family it holds (PretrainedModel exposes it as vlm()):
// LlavaForConditionalGeneration, Qwen2_5_VLForConditionalGeneration and
// InternVLForConditionalGeneration implement it next to being torch modules.
//
// A prompt holds, for each image in order, the number of placeholder ids (image_token_id()) that
// ImageInputs::tokens says; inputs_embeds() replaces their embeddings by the image features.
// Positions: 1-D from the attention mask (LLaVA, InternVL) or M-RoPE (Qwen2.5-VL, [3, B, T]).
#pragma once

#include <cstdint>

#include <torch/types.h>

#include "ril/model/image_inputs.h"

namespace ril::model {

class Qwen2ForCausalLM;

class VisionLanguageModel {
 public:
  virtual ~VisionLanguageModel() = default;
  // The text decoder (generation, sequence log-probs, the discriminator's mirror init).
  virtual Qwen2ForCausalLM& decoder() = 0;
  virtual int64_t image_token_id() const = 0;
  // input_ids [B, T] with placeholders; images undefined for text-only prompts -> [B, T, D].
  // Throws when the placeholders and the images' features differ in number.
  virtual torch::Tensor inputs_embeds(const torch::Tensor& input_ids, const ImageInputs& images) = 0;
  // Position ids for the decoder: [3, B, T] for M-RoPE, undefined for 1-D (cumsum(mask) - 1).
  virtual torch::Tensor position_ids(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                     const ImageInputs& images) {
    return torch::Tensor();
  }
};

// input_ids [B, T] embedded by `decoder`, the rows of the image placeholders replaced in order by
// `features` [N, D] (HF's masked_scatter; placeholder ids outside the vocabulary are embedded as
// id 0 first, as HF does). Undefined `features`: the prompt must hold no placeholder. Throws,
// naming `family` and both counts, when the placeholders are not N.
torch::Tensor merge_image_features(Qwen2ForCausalLM& decoder, const torch::Tensor& input_ids, int64_t image_token_id,
                                   const torch::Tensor& features, const char* family, int64_t num_images);

}  // namespace ril::model
