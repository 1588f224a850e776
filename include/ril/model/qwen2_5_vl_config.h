// HF Qwen2_5_VLConfig (model_type "qwen2_5_vl"): the vision transformer's config, the text
// decoder's (a Qwen2Config with mrope_section) and the image processor's
// (preprocessor_config.json of Qwen2VLImageProcessor{,Fast}), with their JSON read/write.
//
// Read: the 4.x hub layout (text keys at the top level, `rope_scaling: {type: "mrope",
// mrope_section}`, `torch_dtype`; vision_config without model_type, `in_chans`) and the 4.53+/5.x
// layout (`text_config` with model_type "qwen2_5_vl_text", `rope_parameters`, `dtype`). Keys absent
// take HF's class defaults. Write: the 4.x hub layout plus `text_config` and `rope_parameters`.
// Not supported (ConfigError naming file and key): sliding-window attention, a vision activation
// other than silu, a vision_config of another model_type, rope types other than default/mrope.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ril/model/qwen2_config.h"

namespace ril::model {

// HF Qwen2_5_VLVisionConfig. Defaults: the "tiny-qwen2.5-vl" preset's tower.
struct Qwen2_5_VisionConfig {
  int64_t depth = 2;
  int64_t hidden_size = 64;
  std::string hidden_act = "silu";
  int64_t intermediate_size = 128;
  int64_t num_heads = 4;
  int64_t in_channels = 3;
  int64_t patch_size = 14;
  int64_t spatial_merge_size = 2;
  int64_t temporal_patch_size = 2;
  int64_t tokens_per_second = 2;  // video only (temporal positions); kept for the round trip
  int64_t window_size = 56;       // pixels: windows of window_size / (patch * merge) merged patches a side
  int64_t out_hidden_size = 128;  // = the text hidden size
  std::vector<int64_t> fullatt_block_indexes = {1};
  double initializer_range = 0.02;

  int64_t head_dim() const { return hidden_size / num_heads; }
  // Side of an attention window in merged (2x2) units: HF's vit_merger_window_size.
  int64_t merged_window() const { return window_size / spatial_merge_size / patch_size; }
  int64_t patch_dim() const { return in_channels * temporal_patch_size * patch_size * patch_size; }
  void validate(const std::string& source) const;
};

// Qwen2VLImageProcessor(Fast) settings (preprocessor_config.json). Defaults: HF's for Qwen2.5-VL.
struct Qwen2VLImageProcessorConfig {
  int64_t min_pixels = 56 * 56;              // size.shortest_edge
  int64_t max_pixels = 28 * 28 * 1280;       // size.longest_edge (12845056 in the released models)
  std::array<double, 3> image_mean = {0.48145466, 0.4578275, 0.40821073};  // OpenAI CLIP
  std::array<double, 3> image_std = {0.26862954, 0.26130258, 0.27577711};
  void validate(const std::string& source) const;
};

struct Qwen2_5_VLConfig {
  Qwen2Config text_config;  // mrope_section set
  Qwen2_5_VisionConfig vision_config;
  int64_t image_token_id = 1023;
  int64_t video_token_id = -1;         // -1: none
  int64_t vision_start_token_id = -1;  // -1: none (HF writes them; ril does not need them)
  int64_t vision_end_token_id = -1;
  Qwen2VLImageProcessorConfig image_processor;

  void validate(const std::string& source) const;
};

// `j`: a parsed config.json. `source` (the file) is in every error message.
Qwen2_5_VLConfig parse_qwen2_5_vl_config(const nlohmann::json& j, const std::string& source);
// preprocessor_config.json into config.image_processor (checked against the vision tower).
void parse_qwen2_vl_image_processor(const nlohmann::json& j, const std::string& source,
                                    Qwen2_5_VLConfig& config);
nlohmann::json qwen2_5_vl_config_to_json(const Qwen2_5_VLConfig& config);
nlohmann::json qwen2_vl_image_processor_to_json(const Qwen2_5_VLConfig& config);

}  // namespace ril::model
