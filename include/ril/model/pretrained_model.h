// A model of any supported family (Qwen2 text, LLaVA, Qwen2.5-VL, InternVL) behind one interface,
// so that the jobs (sft, teach, train, eval) need not know which family they hold: images in
// (uint8 H x W x 3), placeholders counted, image features merged into the prompt, positions
// (M-RoPE for Qwen2.5-VL) handled inside, generation and teacher-forced log-probs through the
// text decoder, saving in the family's HF layout.
//
// Typical use (rollout / teacher / eval):
//   PretrainedModel m = load_pretrained(dir);                   // checkpoint.h
//   ImageInputs images = m.preprocess_images({image});          // N = images.tokens[0]
//   prompt: ... m.image_prompt_format().start, N x m.image_token_id(), ... end ...
//   GenerationResult r = m.generate(ids, mask, images.to(device), options, rng);
// Learner: sequence_logprobs(m.language_model(), m.teacher_forced_input(...)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/model/generator.h"
#include "ril/model/image_inputs.h"
#include "ril/model/image_processor.h"
#include "ril/model/internvl_model.h"
#include "ril/model/llava_model.h"
#include "ril/model/model_config.h"
#include "ril/model/qwen2_5_vl_model.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/safetensors.h"
#include "ril/model/vision_language_model.h"

namespace ril::model {

struct SaveOptions {
  int64_t max_shard_bytes = 0;           // > 0: shard (model-0000i-of-0000n.safetensors)
  torch::Dtype dtype = torch::kFloat32;  // stored dtype (config torch_dtype follows it)
};

struct PretrainedModel {
  ModelConfig config;
  // Exactly one is set, per config.kind.
  Qwen2ForCausalLM lm{nullptr};
  LlavaForConditionalGeneration llava{nullptr};
  Qwen2_5_VLForConditionalGeneration qwen2_5_vl{nullptr};
  InternVLForConditionalGeneration internvl{nullptr};

  // The modules of `config`, uninitialised (load weights next) or with HF-style random weights.
  static PretrainedModel build(const ModelConfig& config);
  static PretrainedModel create(const ModelConfig& config, uint64_t seed);

  // The text decoder of any kind (generation, log-probs, the discriminator's mirror init).
  Qwen2ForCausalLM& language_model();
  torch::nn::Module& module();
  VisionLanguageModel* vlm();  // null for a text-only model
  bool has_vision() const { return config.has_vision(); }

  // ---- images and prompts (config only) ----
  int64_t image_token_id() const { return config.image_token_id(); }
  ImagePromptFormat image_prompt_format() const { return model::image_prompt_format(config); }
  // Placeholder tokens an image of this size takes (fixed for LLaVA).
  int64_t num_image_tokens(int64_t height, int64_t width) const;
  // CPU float32 model inputs of the images, in order (ImageInputs::tokens: placeholders each).
  ImageInputs preprocess_images(const std::vector<RgbImage>& images) const;

  // ---- forward ----
  // ids [B, T] with placeholders (left-padded batches: mask [B, T]), images in prompt order.
  torch::Tensor inputs_embeds(const torch::Tensor& input_ids, const ImageInputs& images);
  // [3, B, T] (Qwen2.5-VL) or undefined (1-D from the mask).
  torch::Tensor position_ids(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                             const ImageInputs& images);
  // Uncached full forward -> logits [B, T, V].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask, const ImageInputs& images);
  // Everything generate() needs (embeddings with image features, positions); runs without grad.
  GenerationInput generation_input(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                   const ImageInputs& images);
  GenerationResult generate(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                            const ImageInputs& images, const GenerationOptions& options, SamplingGenerators rng);
  // Teacher-forced input for sequence_logprobs (with grad: the learner differentiates through it).
  TeacherForcedInput teacher_forced_input(const torch::Tensor& prompt_ids, const torch::Tensor& prompt_mask,
                                          const ImageInputs& images, const torch::Tensor& response_ids,
                                          const torch::Tensor& response_mask);

  // ---- weights ----
  // Copies HF-named tensors of any supported transformers version into the modules (strict).
  void load_tensors(const TensorMap& tensors, const std::string& source);
  // config.json (+ preprocessor_config.json) and safetensors in the 4.x hub layout (weight_names.h).
  void save(const std::string& dir, const SaveOptions& options = {});
};

}  // namespace ril::model
