// LLaVA: SigLIP vision tower -> 2-layer MLP projector -> Qwen2 decoder, weight-compatible with
// HF LlavaForConditionalGeneration. Parameter names are the transformers 4.x layout:
//   vision_tower.vision_model.*            (siglip_vision.h)
//   multi_modal_projector.linear_1.{weight,bias}, multi_modal_projector.linear_2.{weight,bias}
//   language_model.model.*, language_model.lm_head.weight (absent when tied)
// transformers 5.x names (model.vision_tower.*, model.multi_modal_projector.*,
// model.language_model.*, lm_head.weight) are mapped to these on load (checkpoint.h).
//
// Images: the prompt already holds num_image_tokens() placeholder tokens (image_token_index)
// per image, as HF's processor writes them; their embeddings are replaced, in order, by the
// projected features (HF masked_scatter). Placeholder ids >= vocab_size are embedded as id 0
// before being replaced (HF does the same).
#pragma once

#include <torch/torch.h>

#include "ril/model/generator.h"
#include "ril/model/image_inputs.h"
#include "ril/model/model_config.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/siglip_vision.h"
#include "ril/model/vision_language_model.h"

namespace ril::model {

class LlavaMultiModalProjectorImpl : public torch::nn::Module {
 public:
  explicit LlavaMultiModalProjectorImpl(const LlavaConfig& config);
  // features [N, L, Dv * layers] -> linear_2(act(linear_1(x))) [N, L, D]
  torch::Tensor forward(const torch::Tensor& features);
  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};

 private:
  std::string act_;
};
TORCH_MODULE(LlavaMultiModalProjector);

class LlavaForConditionalGenerationImpl : public torch::nn::Module, public VisionLanguageModel {
 public:
  explicit LlavaForConditionalGenerationImpl(const LlavaConfig& config);

  // pixel_values [N, C, H, W] -> projected features [N, num_image_tokens, D]
  torch::Tensor image_features(const torch::Tensor& pixel_values);
  // input_ids [B, T] with N * num_image_tokens placeholders in total; pixel_values [N, C, H, W]
  // or undefined (text only) -> inputs_embeds [B, T, D]. Throws when the counts differ.
  torch::Tensor inputs_embeds(const torch::Tensor& input_ids, const torch::Tensor& pixel_values);
  // VisionLanguageModel: the same with images.pixel_values.
  torch::Tensor inputs_embeds(const torch::Tensor& input_ids, const ImageInputs& images) override;
  Qwen2ForCausalLM& decoder() override { return language_model; }
  int64_t image_token_id() const override { return config_.image_token_index; }
  // Uncached full forward -> logits [B, T, V].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& pixel_values,
                        const torch::Tensor& attention_mask = {});
  // HF-style init of every parameter, deterministic in seed.
  void init_weights(uint64_t seed);
  const LlavaConfig& config() const { return config_; }

  SiglipVisionModel vision_tower{nullptr};
  LlavaMultiModalProjector multi_modal_projector{nullptr};
  Qwen2ForCausalLM language_model{nullptr};

 private:
  LlavaConfig config_;
};
TORCH_MODULE(LlavaForConditionalGeneration);

// Generation input for a LLaVA prompt (left-padded ids with image placeholders + images):
// inputs_embeds merged; pass it to generate(llava->language_model, ...). Runs without grad.
GenerationInput llava_generation_input(LlavaForConditionalGeneration& llava,
                                       const torch::Tensor& input_ids,
                                       const torch::Tensor& attention_mask,
                                       const torch::Tensor& pixel_values);

}  // namespace ril::model
