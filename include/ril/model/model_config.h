// Model configurations with the fields and names of Hugging Face `config.json`: SiglipVisionConfig
// and LlavaConfig here, Qwen2Config (qwen2_config.h), Qwen2_5_VLConfig (qwen2_5_vl_config.h),
// InternVLConfig (internvl_config.h); ModelConfig, which holds one of them; JSON read/write, and
// named presets (model_presets.cpp).
//
// Read: transformers 4.x and 5.x files (top-level `rope_theta` or `rope_parameters.rope_theta`;
// `image_token_index` or `image_token_id`). Write: the 4.x layout (what most hub checkpoints use),
// plus `rope_parameters` so that 5.x readers find it too.
// Errors (ril::ConfigError) name the file and the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ril/model/internvl_config.h"
#include "ril/model/qwen2_5_vl_config.h"
#include "ril/model/qwen2_config.h"

namespace ril::model {

// HF SiglipVisionConfig (model_type "siglip_vision_model").
struct SiglipVisionConfig {
  int64_t hidden_size = 64;
  int64_t intermediate_size = 128;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 2;
  int64_t num_channels = 3;
  int64_t image_size = 64;
  int64_t patch_size = 8;
  double layer_norm_eps = 1e-6;
  std::string hidden_act = "gelu_pytorch_tanh";
  // HF builds a pooling head when true; LLaVA never uses it. We do not build it: its tensors
  // (vision_model.head.*) are skipped on load, and we save `vision_use_head: false`.
  bool vision_use_head = false;

  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  void validate(const std::string& source) const;
};

// HF LlavaConfig (model_type "llava") with a SigLIP vision tower and a Qwen2 text model.
struct LlavaConfig {
  Qwen2Config text_config;
  SiglipVisionConfig vision_config;
  int64_t image_token_index = 1023;
  std::string projector_hidden_act = "gelu";
  // HF `vision_feature_layer`: an int, or a list whose selected layers are concatenated on the
  // hidden dimension. Indexes HF's `hidden_states` tuple (0 = embeddings, -1 = last layer).
  std::vector<int64_t> vision_feature_layers = {-1};
  bool vision_feature_layer_is_list = false;
  // "full": every patch; "default": drops the first token (CLS for CLIP). SigLIP has no CLS
  // token, so SigLIP LLaVA checkpoints use "full"; "default" is still applied as HF does.
  std::string vision_feature_select_strategy = "full";
  bool multimodal_projector_bias = true;

  // Image placeholder tokens per image in the prompt = features per image after selection.
  int64_t num_image_tokens() const;
  void validate(const std::string& source) const;
};

enum class ModelKind { kQwen2, kLlava, kQwen2_5_VL, kInternVL };
const char* model_kind_name(ModelKind kind);  // the HF model_type

// One parsed config.json (+ preprocessor_config.json): a text-only Qwen2ForCausalLM, a
// LlavaForConditionalGeneration, a Qwen2_5_VLForConditionalGeneration or an
// InternVLForConditionalGeneration.
struct ModelConfig {
  ModelKind kind = ModelKind::kQwen2;
  Qwen2Config qwen2;             // kQwen2
  LlavaConfig llava;             // kLlava
  Qwen2_5_VLConfig qwen2_5_vl;   // kQwen2_5_VL
  InternVLConfig internvl;       // kInternVL

  // The text decoder's config, whichever the kind.
  const Qwen2Config& text() const;
  Qwen2Config& text();
  bool has_vision() const { return kind != ModelKind::kQwen2; }
  // The id of the image placeholder token; -1 for a text-only model.
  int64_t image_token_id() const;
  void set_image_token_id(int64_t id);  // a vision config only (throws for a text-only one)
  void validate(const std::string& source) const;
};

// Parsing. `source` (a path) appears in every error message.
SiglipVisionConfig parse_siglip_vision_config(const nlohmann::json& j, const std::string& source);
LlavaConfig parse_llava_config(const nlohmann::json& j, const std::string& source);
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source);
// `path`: a config.json file or a directory that holds one (and then, for Qwen2.5-VL and InternVL,
// its preprocessor_config.json when present: the image processor settings).
ModelConfig load_model_config(const std::string& path);

// Writing (4.x layout, with `architectures` and `model_type`).
nlohmann::json siglip_vision_config_to_json(const SiglipVisionConfig& config);
nlohmann::json llava_config_to_json(const LlavaConfig& config);
nlohmann::json model_config_to_json(const ModelConfig& config);
// `path` a config.json file or a directory; in a directory, Qwen2.5-VL and InternVL models also get
// preprocessor_config.json.
void save_model_config(const ModelConfig& config, const std::string& path);

// Named presets: "tiny" (Qwen2, ~1M params), "tiny-teacher-small" (Qwen2, ~5M), "tiny-llava-large"
// (tiny-llava with the ~5M text decoder of tiny-teacher-small), "tiny-llava"
// (SigLIP 64x64/8 + tiny Qwen2), "qwen2-0.5b", "qwen2-1.5b" (text configs of the released
// models), "llava-qwen2-0.5b-siglip" (SigLIP-so400m/14 at 384 + Qwen2-0.5B, LLaVA-OneVision
// shaped), "tiny-qwen2.5-vl", "tiny-internvl3" (CPU test sizes, vocab 1024), "qwen2.5-vl-3b",
// "qwen2.5-vl-7b", "internvl3-1b", "internvl3-2b", "internvl3-8b" (the shapes of the released
// checkpoints' config.json). Throws ConfigError listing the names for an unknown one.
ModelConfig model_preset(const std::string& name);
std::vector<std::string> model_preset_names();
// An existing path (directory or config.json) is loaded, anything else is a preset name
// (`ril info --model`).
ModelConfig model_preset_or_config(const std::string& name_or_path);

}  // namespace ril::model
