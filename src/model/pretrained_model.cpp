// PretrainedModel's family dispatch and forward helpers (its save/load_tensors live with the other
// HF-directory code in checkpoint.cpp).
#include "ril/model/pretrained_model.h"

#include "ril/common/error.h"

namespace ril::model {

PretrainedModel PretrainedModel::build(const ModelConfig& config) {
  PretrainedModel m;
  m.config = config;
  switch (config.kind) {
    case ModelKind::kLlava: m.llava = LlavaForConditionalGeneration(config.llava); break;
    case ModelKind::kQwen2_5_VL: m.qwen2_5_vl = Qwen2_5_VLForConditionalGeneration(config.qwen2_5_vl); break;
    case ModelKind::kInternVL: m.internvl = InternVLForConditionalGeneration(config.internvl); break;
    default: m.lm = Qwen2ForCausalLM(config.qwen2); break;
  }
  return m;
}

PretrainedModel PretrainedModel::create(const ModelConfig& config, uint64_t seed) {
  PretrainedModel m = build(config);
  switch (config.kind) {
    case ModelKind::kLlava: m.llava->init_weights(seed); break;
    case ModelKind::kQwen2_5_VL: m.qwen2_5_vl->init_weights(seed); break;
    case ModelKind::kInternVL: m.internvl->init_weights(seed); break;
    default: m.lm->init_weights(seed); break;
  }
  return m;
}

VisionLanguageModel* PretrainedModel::vlm() {
  switch (config.kind) {
    case ModelKind::kLlava: return llava.get();
    case ModelKind::kQwen2_5_VL: return qwen2_5_vl.get();
    case ModelKind::kInternVL: return internvl.get();
    default: return nullptr;
  }
}

Qwen2ForCausalLM& PretrainedModel::language_model() {
  VisionLanguageModel* v = vlm();
  return v != nullptr ? v->decoder() : lm;
}

torch::nn::Module& PretrainedModel::module() {
  switch (config.kind) {
    case ModelKind::kLlava: return *llava;
    case ModelKind::kQwen2_5_VL: return *qwen2_5_vl;
    case ModelKind::kInternVL: return *internvl;
    default: return *lm;
  }
}

int64_t PretrainedModel::num_image_tokens(int64_t height, int64_t width) const {
  return model::num_image_tokens(config, height, width);
}

ImageInputs PretrainedModel::preprocess_images(const std::vector<RgbImage>& images) const {
  return model::preprocess_images(config, images);
}

torch::Tensor PretrainedModel::inputs_embeds(const torch::Tensor& input_ids, const ImageInputs& images) {
  VisionLanguageModel* v = vlm();
  if (v != nullptr) return v->inputs_embeds(input_ids, images);
  RIL_CHECK(!images.defined(), "a text-only ", model_kind_name(config.kind), " model was given images");
  return lm->embed(input_ids);
}

torch::Tensor PretrainedModel::position_ids(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                            const ImageInputs& images) {
  VisionLanguageModel* v = vlm();
  return v != nullptr ? v->position_ids(input_ids, attention_mask, images) : torch::Tensor();
}

torch::Tensor PretrainedModel::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                       const ImageInputs& images) {
  torch::Tensor embeds = inputs_embeds(input_ids, images);
  torch::Tensor pos = position_ids(input_ids, attention_mask, images);
  Qwen2ForCausalLM& lm_ = language_model();
  return lm_->logits(lm_->model->forward(embeds, attention_mask, pos));
}

GenerationInput PretrainedModel::generation_input(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                                  const ImageInputs& images) {
  torch::NoGradGuard no_grad;
  GenerationInput in;
  in.input_ids = input_ids;
  in.attention_mask = attention_mask;
  if (vlm() != nullptr) {
    in.inputs_embeds = inputs_embeds(input_ids, images);
    in.position_ids = position_ids(input_ids, attention_mask, images);
  } else {
    RIL_CHECK(!images.defined(), "a text-only qwen2 model was given images");
  }
  return in;
}

GenerationResult PretrainedModel::generate(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                           const ImageInputs& images, const GenerationOptions& options,
                                           SamplingGenerators rng) {
  return model::generate(language_model(), generation_input(input_ids, attention_mask, images), options,
                         std::move(rng));
}

TeacherForcedInput PretrainedModel::teacher_forced_input(const torch::Tensor& prompt_ids,
                                                         const torch::Tensor& prompt_mask, const ImageInputs& images,
                                                         const torch::Tensor& response_ids,
                                                         const torch::Tensor& response_mask) {
  TeacherForcedInput in;
  in.prompt_ids = prompt_ids;
  in.prompt_mask = prompt_mask;
  in.response_ids = response_ids;
  in.response_mask = response_mask;
  if (vlm() != nullptr) {
    in.prompt_embeds = inputs_embeds(prompt_ids, images);
    in.prompt_position_ids = position_ids(prompt_ids, prompt_mask, images);
  } else {
    RIL_CHECK(!images.defined(), "a text-only qwen2 model was given images");
  }
  return in;
}

}  // namespace ril::model
