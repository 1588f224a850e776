#include "ril/model/qwen2_5_vl_model.h"

#include "ril/common/error.h"
#include "ril/model/mrope.h"

namespace ril::model {

Qwen2_5_VLForConditionalGenerationImpl::Qwen2_5_VLForConditionalGenerationImpl(const Qwen2_5_VLConfig& c)
    : config_(c) {
  c.validate("Qwen2_5_VLForConditionalGeneration");
  visual = register_module("visual", Qwen2_5_VisionTransformer(c.vision_config));
  language_model = Qwen2ForCausalLM(c.text_config);
  register_module("model", language_model->model);
  if (language_model->lm_head) register_module("lm_head", language_model->lm_head);
}

torch::Tensor Qwen2_5_VLForConditionalGenerationImpl::image_features(const ImageInputs& images) {
  RIL_CHECK(images.image_grid_thw.defined(), "Qwen2.5-VL: images need image_grid_thw (pixel_values ",
            images.pixel_values.sizes(), ")");
  torch::Tensor grid = images.image_grid_thw.to(torch::kCPU, torch::kInt64);
  const int64_t p = config_.vision_config.patch_size, max_pixels = config_.image_processor.max_pixels;
  for (int64_t i = 0; i < grid.size(0); ++i) {
    const int64_t pixels = grid[i][1].item<int64_t>() * grid[i][2].item<int64_t>() * p * p;
    RIL_CHECK(pixels <= max_pixels, "Qwen2.5-VL: image ", i, " has a ", grid[i][1].item<int64_t>(), "x",
              grid[i][2].item<int64_t>(), " patch grid = ", pixels, " pixels, above max_pixels ", max_pixels,
              " (preprocessor_config.json key 'max_pixels'); preprocess images with this model's image processor");
  }
  return visual->forward(images.pixel_values, images.image_grid_thw);
}

torch::Tensor Qwen2_5_VLForConditionalGenerationImpl::inputs_embeds(const torch::Tensor& input_ids,
                                                                     const ImageInputs& images) {
  const torch::Tensor features = images.defined() ? image_features(images) : torch::Tensor();  // [N, D]
  return merge_image_features(language_model, input_ids, config_.image_token_id, features, "Qwen2.5-VL",
                              images.num_images());
}

torch::Tensor Qwen2_5_VLForConditionalGenerationImpl::position_ids(const torch::Tensor& input_ids,
                                                                   const torch::Tensor& attention_mask,
                                                                   const ImageInputs& images) {
  return mrope_position_ids(input_ids, attention_mask, images.image_grid_thw, config_.image_token_id,
                            config_.vision_config.spatial_merge_size)
      .position_ids;
}

torch::Tensor Qwen2_5_VLForConditionalGenerationImpl::forward(const torch::Tensor& input_ids, const ImageInputs& images,
                                                              const torch::Tensor& attention_mask) {
  torch::Tensor embeds = inputs_embeds(input_ids, images);
  torch::Tensor pos = position_ids(input_ids, attention_mask, images);
  return language_model->logits(language_model->model->forward(embeds, attention_mask, pos));
}

void Qwen2_5_VLForConditionalGenerationImpl::init_weights(uint64_t seed) {
  init_parameters(*this, config_.text_config.initializer_range, seed);
  torch::NoGradGuard no_grad;
  visual->merger->ln_q->weight.fill_(1.0);  // an RMSNorm whose name lacks "norm"
}

}  // namespace ril::model
