// Qwen2.5-VL, weight-compatible with HF Qwen2_5_VLForConditionalGeneration. Parameter names are the
// 4.x hub layout (what the released checkpoints use and ril saves):
//   visual.*                (qwen2_5_vl_vision.h)
//   model.*                 the Qwen2 text decoder (qwen2_decoder.h), M-RoPE
//   lm_head.weight          (absent when tie_word_embeddings)
// transformers 4.52+/5.x names (model.language_model.*, model.visual.*) are mapped on load
// (weight_names.h).
//
// Prompt: each image is a run of (h / 2) * (w / 2) image_token_id placeholders (HF's processor
// writes <|vision_start|><|image_pad|>...<|vision_end|>); the runs, in order, take the images'
// merged features. Positions: M-RoPE (mrope.h), computed from the placeholders and the grids.
#pragma once

#include <torch/torch.h>

#include "ril/model/image_inputs.h"
#include "ril/model/qwen2_5_vl_config.h"
#include "ril/model/qwen2_5_vl_vision.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/vision_language_model.h"

namespace ril::model {

class Qwen2_5_VLForConditionalGenerationImpl : public torch::nn::Module, public VisionLanguageModel {
 public:
  explicit Qwen2_5_VLForConditionalGenerationImpl(const Qwen2_5_VLConfig& config);

  // images (pixel_values + image_grid_thw) -> merged features [sum tokens, D], in image order.
  // Throws for a grid beyond max_pixels (the image processor would have shrunk it).
  torch::Tensor image_features(const ImageInputs& images);
  torch::Tensor inputs_embeds(const torch::Tensor& input_ids, const ImageInputs& images) override;
  // [3, B, T] M-RoPE positions (pads: 1).
  torch::Tensor position_ids(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                             const ImageInputs& images) override;
  // Uncached full forward -> logits [B, T, V].
  torch::Tensor forward(const torch::Tensor& input_ids, const ImageInputs& images,
                        const torch::Tensor& attention_mask = {});
  Qwen2ForCausalLM& decoder() override { return language_model; }
  int64_t image_token_id() const override { return config_.image_token_id; }
  void init_weights(uint64_t seed);
  const Qwen2_5_VLConfig& config() const { return config_; }

  Qwen2_5_VisionTransformer visual{nullptr};
  // Not a registered child itself: its `model` and `lm_head` are registered here under those
  // names, so that parameter names are the hub's (model.*, lm_head.*).
  Qwen2ForCausalLM language_model{nullptr};

 private:
  Qwen2_5_VLConfig config_;
};
TORCH_MODULE(Qwen2_5_VLForConditionalGeneration);

}  // namespace ril::model
