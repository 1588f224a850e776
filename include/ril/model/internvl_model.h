// InternVL (InternVL3), weight-compatible with HF InternVLForConditionalGeneration. Parameter names
// are the layout of the released -hf checkpoints (what ril saves):
//   vision_tower.*                      InternViT (internvl_vision.h)
//   multi_modal_projector.layer_norm.{weight,bias}   LayerNorm(4 Dv), eps 1e-5 (torch default)
//   multi_modal_projector.linear_1.{weight,bias}     4 Dv -> D, GELU, then
//   multi_modal_projector.linear_2.{weight,bias}     D -> D
//   language_model.model.*, language_model.lm_head.weight (absent when tied)
// 4.52+/5.x names (model.vision_tower.*, model.multi_modal_projector.*, model.language_model.*,
// lm_head.*) are mapped on load (weight_names.h).
//
// Image features of each tile: the vision feature layer without the CLS token, as a g x g grid;
// pixel shuffle 0.5 (each 2x2 block of patches becomes one 4 Dv vector: channel index
// dh * 2 Dv + dw * Dv + c for patch (2i + dh, 2j + dw)); projector -> [(g/2)^2, D]. The tiles of the
// images replace the image_token_id placeholders in order (tokens_per_tile each).
#pragma once

#include <torch/torch.h>

#include "ril/model/image_inputs.h"
#include "ril/model/internvl_config.h"
#include "ril/model/internvl_vision.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/vision_language_model.h"

namespace ril::model {

// [N, g, g, C] -> [N, g/2, g/2, 4C] (HF InternVLModel.pixel_shuffle with scale 0.5).
torch::Tensor internvl_pixel_shuffle(const torch::Tensor& features);

class InternVLMultiModalProjectorImpl : public torch::nn::Module {
 public:
  explicit InternVLMultiModalProjectorImpl(const InternVLConfig& config);
  torch::Tensor forward(const torch::Tensor& features);  // [N, L, 4 Dv] -> [N, L, D]
  torch::nn::LayerNorm layer_norm{nullptr};
  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(InternVLMultiModalProjector);

class InternVLForConditionalGenerationImpl : public torch::nn::Module, public VisionLanguageModel {
 public:
  explicit InternVLForConditionalGenerationImpl(const InternVLConfig& config);

  // tiles [T, C, S, S] -> [T, tokens_per_tile, D]
  torch::Tensor image_features(const torch::Tensor& pixel_values);
  torch::Tensor inputs_embeds(const torch::Tensor& input_ids, const ImageInputs& images) override;
  // Uncached full forward -> logits [B, T, V].
  torch::Tensor forward(const torch::Tensor& input_ids, const ImageInputs& images,
                        const torch::Tensor& attention_mask = {});
  Qwen2ForCausalLM& decoder() override { return language_model; }
  int64_t image_token_id() const override { return config_.image_token_id; }
  void init_weights(uint64_t seed);
  const InternVLConfig& config() const { return config_; }

  InternVLVisionModel vision_tower{nullptr};
  InternVLMultiModalProjector multi_modal_projector{nullptr};
  Qwen2ForCausalLM language_model{nullptr};

 private:
  InternVLConfig config_;
};
TORCH_MODULE(InternVLForConditionalGeneration);

}  // namespace ril::model
