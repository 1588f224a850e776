#include "ril/model/llava_model.h"

#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::model {

LlavaMultiModalProjectorImpl::LlavaMultiModalProjectorImpl(const LlavaConfig& c)
    : act_(c.projector_hidden_act) {
  const int64_t in = c.vision_config.hidden_size * static_cast<int64_t>(c.vision_feature_layers.size());
  const int64_t d = c.text_config.hidden_size;
  linear_1 = register_module(
      "linear_1", torch::nn::Linear(torch::nn::LinearOptions(in, d).bias(c.multimodal_projector_bias)));
  linear_2 = register_module(
      "linear_2", torch::nn::Linear(torch::nn::LinearOptions(d, d).bias(c.multimodal_projector_bias)));
}

torch::Tensor LlavaMultiModalProjectorImpl::forward(const torch::Tensor& features) {
  torch::Tensor h = linear_1->forward(features);
  h = act_ == "gelu_pytorch_tanh" ? torch::gelu(h, "tanh") : torch::gelu(h);  // "gelu": exact erf
  return linear_2->forward(h);
}

LlavaForConditionalGenerationImpl::LlavaForConditionalGenerationImpl(const LlavaConfig& c)
    : config_(c) {
  c.validate("LlavaForConditionalGeneration");
  if (c.vision_feature_select_strategy == "default") {
    log_warn("model", "LLaVA: vision_feature_select_strategy 'default' drops the first patch; "
             "SigLIP has no CLS token (SigLIP checkpoints use 'full')");
  }
  vision_tower = register_module("vision_tower", SiglipVisionModel(c.vision_config));
  multi_modal_projector = register_module("multi_modal_projector", LlavaMultiModalProjector(c));
  language_model = register_module("language_model", Qwen2ForCausalLM(c.text_config));
}

torch::Tensor LlavaForConditionalGenerationImpl::image_features(const torch::Tensor& pixel_values) {
  SiglipVisionOutput out = vision_tower->forward(pixel_values);
  const int64_t n_states = static_cast<int64_t>(out.hidden_states.size());  // layers + 1
  std::vector<torch::Tensor> pool;
  for (int64_t layer : config_.vision_feature_layers) {
    const int64_t idx = layer < 0 ? n_states + layer : layer;
    torch::Tensor h = out.hidden_states.at(idx);  // [N, L, Dv]
    if (config_.vision_feature_select_strategy == "default") h = h.narrow(1, 1, h.size(1) - 1);
    pool.push_back(h);
  }
  torch::Tensor selected = pool.size() == 1 ? pool[0] : torch::cat(pool, -1);
  return multi_modal_projector->forward(selected);  // [N, L', D]
}

torch::Tensor LlavaForConditionalGenerationImpl::inputs_embeds(const torch::Tensor& input_ids,
                                                               const torch::Tensor& pixel_values) {
  TORCH_CHECK(input_ids.dim() == 2, "LLaVA: input_ids must be [B, T], got ", input_ids.sizes());
  torch::Tensor is_image = input_ids.eq(config_.image_token_index);  // [B, T]
  torch::Tensor ids = input_ids;
  if (config_.image_token_index >= config_.text_config.vocab_size) {
    ids = input_ids.masked_fill(is_image, 0);
  }
  torch::Tensor embeds = language_model->embed(ids);  // [B, T, D]
  const int64_t n_placeholders = is_image.sum().item<int64_t>();
  if (!pixel_values.defined()) {
    RIL_CHECK(n_placeholders == 0, "LLaVA: prompt has ", n_placeholders,
              " image tokens (id ", config_.image_token_index, ") but no pixel_values were given");
    return embeds;
  }
  torch::Tensor features = image_features(pixel_values);  // [N, L, D]
  const int64_t n_features = features.size(0) * features.size(1);
  RIL_CHECK(n_placeholders == n_features, "LLaVA: image features and image tokens do not match: ",
            "prompt has ", n_placeholders, " tokens of id ", config_.image_token_index,
            ", images give ", features.size(0), " x ", features.size(1), " = ", n_features,
            " features");
  torch::Tensor mask = is_image.unsqueeze(-1).expand_as(embeds);
  return embeds.masked_scatter(mask, features.to(embeds.scalar_type()));
}

torch::Tensor LlavaForConditionalGenerationImpl::inputs_embeds(const torch::Tensor& input_ids,
                                                               const ImageInputs& images) {
  return inputs_embeds(input_ids, images.pixel_values);
}

torch::Tensor LlavaForConditionalGenerationImpl::forward(const torch::Tensor& input_ids,
                                                         const torch::Tensor& pixel_values,
                                                         const torch::Tensor& attention_mask) {
  torch::Tensor embeds = inputs_embeds(input_ids, pixel_values);
  return language_model->logits(language_model->model->forward(embeds, attention_mask));
}

void LlavaForConditionalGenerationImpl::init_weights(uint64_t seed) {
  init_parameters(*this, config_.text_config.initializer_range, seed);
}

GenerationInput llava_generation_input(LlavaForConditionalGeneration& llava,
                                       const torch::Tensor& input_ids,
                                       const torch::Tensor& attention_mask,
                                       const torch::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  GenerationInput in;
  in.input_ids = input_ids;
  in.attention_mask = attention_mask;
  in.inputs_embeds = llava->inputs_embeds(input_ids, pixel_values);
  return in;
}

}  // namespace ril::model
