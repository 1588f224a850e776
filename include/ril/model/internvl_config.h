// HF InternVLConfig (model_type "internvl", the transformers-native InternVL3 "-hf" checkpoints):
// InternViT's config (InternVLVisionConfig), the Qwen2 text config, and the image processor's
// (preprocessor_config.json of GotOcr2ImageProcessor{,Fast} with crop_to_patches), with their JSON
// read/write.
//
// Supported: InternViT with LayerNorm or RMSNorm, with or without q/k norm and qkv bias (300M and
// 6B towers), pixel shuffle 0.5, vision_feature_layer an int, strategy "default" (CLS dropped),
// text model_type "qwen2" (InternVL3-1B/2B/8B/14B/38B/78B). Not supported (ConfigError naming file
// and key): a llama text model (InternVL3-9B), non-square tiles, another downsample_ratio,
// vision_feature_layer lists, strategy "full", a mismatching image_seq_length.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "ril/model/qwen2_config.h"

namespace ril::model {

// HF InternVLVisionConfig (model_type "internvl_vision"). Defaults: the "tiny-internvl3" tower.
struct InternVLVisionConfig {
  int64_t hidden_size = 64;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  bool attention_bias = true;
  bool use_qk_norm = false;
  int64_t intermediate_size = 128;
  std::string hidden_act = "gelu";
  std::string norm_type = "layer_norm";  // or "rms_norm" (InternViT-6B)
  double layer_norm_eps = 1e-6;
  int64_t image_size = 64;  // square tiles
  int64_t patch_size = 8;
  int64_t num_channels = 3;
  bool use_absolute_position_embeddings = true;
  double layer_scale_init_value = 0.1;
  bool use_mean_pooling = true;  // true: no final layernorm (every InternVL3 checkpoint)
  double initializer_range = 0.02;

  int64_t grid() const { return image_size / patch_size; }  // patches a side
  void validate(const std::string& source) const;
};

// GotOcr2ImageProcessor settings as the InternVL processor uses them (dynamic tiling).
struct InternVLImageProcessorConfig {
  bool crop_to_patches = true;  // the InternVL processor's default
  int64_t min_patches = 1;
  int64_t max_patches = 12;
  std::array<double, 3> image_mean = {0.485, 0.456, 0.406};  // ImageNet (InternVL's -hf files)
  std::array<double, 3> image_std = {0.229, 0.224, 0.225};
  void validate(const std::string& source) const;
};

struct InternVLConfig {
  Qwen2Config text_config;
  InternVLVisionConfig vision_config;
  int64_t image_token_id = 1023;  // <IMG_CONTEXT>
  int64_t image_seq_length = 16;  // tokens per tile = (grid * downsample_ratio)^2
  double downsample_ratio = 0.5;
  std::string projector_hidden_act = "gelu";
  int64_t vision_feature_layer = -1;
  std::string vision_feature_select_strategy = "default";
  InternVLImageProcessorConfig image_processor;

  int64_t tokens_per_tile() const;
  void validate(const std::string& source) const;
};

InternVLConfig parse_internvl_config(const nlohmann::json& j, const std::string& source);
void parse_internvl_image_processor(const nlohmann::json& j, const std::string& source,
                                    InternVLConfig& config);
nlohmann::json internvl_config_to_json(const InternVLConfig& config);
nlohmann::json internvl_image_processor_to_json(const InternVLConfig& config);

}  // namespace ril::model
