// HF-format model directories (config.json + model.safetensors or sharded safetensors) and
// strict state-dict loading with HF names.
//
// Loading is strict: one error lists every missing tensor (with the expected shape), every
// unexpected tensor, and every shape mismatch (expected vs file), naming the source directory.
// Tensors are converted to each parameter's dtype and copied to its device.
// Known, harmless extras are skipped: lm_head.weight of a tied model (HF ties over it),
// *.rotary_emb.inv_freq, and the SigLIP pooling head (vision_model.head.*).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/model/discriminator.h"
#include "ril/model/llava_model.h"
#include "ril/model/model_config.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/safetensors.h"

namespace ril::model {

struct LoadOptions {
  std::string source;                        // for messages (a directory or file)
  std::vector<std::string> ignore_prefixes;  // file tensors to skip
  std::vector<std::string> ignore_suffixes;
};

// name -> parameter (detached; shares storage) for every parameter of `module`.
TensorMap module_tensors(const torch::nn::Module& module);
// Copies `tensors` into `module`'s parameters, strictly (see above).
void load_module_tensors(torch::nn::Module& module, const TensorMap& tensors,
                         const LoadOptions& options);

// transformers 5.x LLaVA names -> 4.x names (model.language_model.X -> language_model.model.X,
// lm_head.X -> language_model.lm_head.X, model.vision_tower.X -> vision_tower.X,
// model.multi_modal_projector.X -> multi_modal_projector.X); 4.x names pass through.
TensorMap llava_names_to_v4(const TensorMap& tensors);

struct SaveOptions {
  int64_t max_shard_bytes = 0;             // > 0: shard (model-0000i-of-0000n.safetensors)
  torch::Dtype dtype = torch::kFloat32;    // stored dtype (config torch_dtype follows it)
};

// A loaded directory: exactly one of lm / llava is set, per config.kind.
struct PretrainedModel {
  ModelConfig config;
  Qwen2ForCausalLM lm{nullptr};
  LlavaForConditionalGeneration llava{nullptr};
  // The text decoder of either kind (for generation and the discriminator's mirror init).
  Qwen2ForCausalLM& language_model() { return config.kind == ModelKind::kLlava ? llava->language_model : lm; }
};

// Builds the model named by dir/config.json and loads its weights (float32 CPU parameters;
// move with ->to(device, dtype) afterwards).
PretrainedModel load_pretrained(const std::string& dir);
Qwen2ForCausalLM load_qwen2_for_causal_lm(const std::string& dir);
LlavaForConditionalGeneration load_llava(const std::string& dir);

// Writes config.json and safetensors (4.x names; tied lm_head omitted) into `dir` (created).
void save_pretrained(Qwen2ForCausalLM& lm, const std::string& dir, const SaveOptions& options = {});
void save_pretrained(LlavaForConditionalGeneration& llava, const std::string& dir,
                     const SaveOptions& options = {});

// Discriminator directories: config.json (Qwen2, architectures Qwen2ForSequenceClassification,
// num_labels 1) + safetensors with model.* and score.weight.
void save_discriminator(Qwen2Discriminator& disc, const std::string& dir,
                        const SaveOptions& options = {});
Qwen2Discriminator load_discriminator(const std::string& dir);

}  // namespace ril::model
