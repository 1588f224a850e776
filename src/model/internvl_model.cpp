#include "ril/model/internvl_model.h"

#include "ril/common/error.h"

namespace ril::model {

torch::Tensor internvl_pixel_shuffle(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) % 2 == 0 && x.size(2) % 2 == 0, "pixel_shuffle: features must be [N, g, g, C] "
              "with g even, got ", x.sizes());
  const int64_t n = x.size(0), a = x.size(1), b = x.size(2), c = x.size(3);
  // HF's view/permute sequence (its names swap width and height; the result is the same):
  // pairs along the second grid axis, then pairs along the first.
  torch::Tensor y = x.reshape({n, a, b / 2, c * 2}).permute({0, 2, 1, 3}).contiguous();
  y = y.view({n, b / 2, a / 2, c * 4}).permute({0, 2, 1, 3}).contiguous();
  return y;  // [N, a/2, b/2, 4C]
}

InternVLMultiModalProjectorImpl::InternVLMultiModalProjectorImpl(const InternVLConfig& c) {
  const int64_t in = c.vision_config.hidden_size * 4, d = c.text_config.hidden_size;
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in}).eps(1e-5)));
  linear_1 = register_module("linear_1", torch::nn::Linear(in, d));
  linear_2 = register_module("linear_2", torch::nn::Linear(d, d));
}

torch::Tensor InternVLMultiModalProjectorImpl::forward(const torch::Tensor& features) {
  return linear_2->forward(torch::gelu(linear_1->forward(layer_norm->forward(features))));
}

InternVLForConditionalGenerationImpl::InternVLForConditionalGenerationImpl(const InternVLConfig& c) : config_(c) {
  c.validate("InternVLForConditionalGeneration");
  vision_tower = register_module("vision_tower", InternVLVisionModel(c.vision_config));
  multi_modal_projector = register_module("multi_modal_projector", InternVLMultiModalProjector(c));
  language_model = register_module("language_model", Qwen2ForCausalLM(c.text_config));
}

torch::Tensor InternVLForConditionalGenerationImpl::image_features(const torch::Tensor& pixel_values) {
  InternVLVisionOutput out = vision_tower->forward(pixel_values);
  const int64_t layer = config_.vision_feature_layer;
  const auto n_states = static_cast<int64_t>(out.hidden_states.size());  // layers + 1
  torch::Tensor h = layer == -1 ? out.last_hidden_state
                                : out.hidden_states.at(static_cast<size_t>(layer < 0 ? n_states + layer : layer));
  h = h.narrow(1, 1, h.size(1) - 1);  // strategy "default": drop CLS
  const int64_t g = config_.vision_config.grid();
  h = internvl_pixel_shuffle(h.reshape({h.size(0), g, g, h.size(2)}));
  return multi_modal_projector->forward(h.reshape({h.size(0), -1, h.size(3)}));  // [T, (g/2)^2, D]
}

torch::Tensor InternVLForConditionalGenerationImpl::inputs_embeds(const torch::Tensor& input_ids,
                                                                  const ImageInputs& images) {
  torch::Tensor features;
  if (images.defined()) {
    features = image_features(images.pixel_values);                // [tiles, tokens_per_tile, D]
    features = features.reshape({-1, features.size(2)});           // tiles in order
  }
  return merge_image_features(language_model, input_ids, config_.image_token_id, features, "InternVL",
                              images.num_images());
}

torch::Tensor InternVLForConditionalGenerationImpl::forward(const torch::Tensor& input_ids, const ImageInputs& images,
                                                            const torch::Tensor& attention_mask) {
  torch::Tensor embeds = inputs_embeds(input_ids, images);
  return language_model->logits(language_model->model->forward(embeds, attention_mask));
}

void InternVLForConditionalGenerationImpl::init_weights(uint64_t seed) {
  init_parameters(*this, config_.text_config.initializer_range, seed);
  torch::NoGradGuard no_grad;
  for (auto& layer : vision_tower->encoder->layer_list) {  // layer scale starts at its configured value
    layer->lambda_1.fill_(config_.vision_config.layer_scale_init_value);
    layer->lambda_2.fill_(config_.vision_config.layer_scale_init_value);
  }
}

}  // namespace ril::model
