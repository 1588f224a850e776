// HF-format model directories (config.json + model.safetensors or sharded safetensors) and
// strict state-dict loading with HF names.
//
// Loading is strict: one error lists every missing tensor (with the expected shape), every
// unexpected tensor, and every shape mismatch (expected vs file), naming the source directory.
// Tensors are converted to each parameter's dtype and copied to its device.
// Known, harmless extras are skipped: lm_head.weight of a tied model (HF ties over it),
// *.rotary_emb.inv_freq, and the SigLIP pooling head (vision_model.head.*).
// Families and their names: weight_names.h; the family-independent model: pretrained_model.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/model/discriminator.h"
#include "ril/model/llava_model.h"
#include "ril/model/model_config.h"
#include "ril/model/pretrained_model.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/safetensors.h"
#include "ril/model/weight_names.h"

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

// Tensors HF saves that the modules have no parameter for, per family (tied lm_head, rotary
// buffers, the SigLIP pooling head), and the name mapping of any transformers version onto the
// modules' names (weight_names.h).
LoadOptions hf_load_options(const ModelConfig& config, const std::string& source);
TensorMap hf_names_to_ril(const ModelConfig& config, const TensorMap& tensors, const std::string& source);

// Builds the model named by dir/config.json (+ preprocessor_config.json) and loads its weights
// (float32 CPU parameters; move with module().to(device, dtype) afterwards). Nothing is returned
// half-loaded: config, shapes and names are all checked first (errors name the file and key).
PretrainedModel load_pretrained(const std::string& dir);
Qwen2ForCausalLM load_qwen2_for_causal_lm(const std::string& dir);
LlavaForConditionalGeneration load_llava(const std::string& dir);

// Writes config.json and safetensors (4.x names; tied lm_head omitted) into `dir` (created).
void save_pretrained(Qwen2ForCausalLM& lm, const std::string& dir, const SaveOptions& options = {});
void save_pretrained(LlavaForConditionalGeneration& llava, const std::string& dir,
                     const SaveOptions& options = {});
void save_pretrained(Qwen2_5_VLForConditionalGeneration& model, const std::string& dir,
                     const SaveOptions& options = {});
void save_pretrained(InternVLForConditionalGeneration& model, const std::string& dir,
                     const SaveOptions& options = {});

// Discriminator directories: config.json (Qwen2, architectures Qwen2ForSequenceClassification,
// num_labels 1) + safetensors with model.* and score.weight.
void save_discriminator(Qwen2Discriminator& disc, const std::string& dir,
                        const SaveOptions& options = {});
Qwen2Discriminator load_discriminator(const std::string& dir);

}  // namespace ril::model
