#include "ril/model/internvl_config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "config_json.h"
#include "ril/common/error.h"

namespace ril::model {
namespace {

using json = nlohmann::json;
using namespace config_json;

InternVLVisionConfig parse_vision(const json& v, const std::string& src) {
  RIL_CONFIG_CHECK(v.is_object(), src, ": must be a JSON object");
  const auto type = get_optional<std::string>(v, "model_type", "internvl_vision", src);
  RIL_CONFIG_CHECK(type == "internvl_vision", src, ": key 'model_type' = '", type,
                   "' is not supported for the InternVL vision tower (supported: internvl_vision)");
  InternVLVisionConfig c;  // HF InternVLVisionConfig class defaults below
  c.hidden_size = get_optional<int64_t>(v, "hidden_size", 1024, src);
  c.num_hidden_layers = get_optional<int64_t>(v, "num_hidden_layers", 24, src);
  c.num_attention_heads = get_optional<int64_t>(v, "num_attention_heads", 16, src);
  c.attention_bias = get_optional<bool>(v, "attention_bias", false, src);
  c.use_qk_norm = get_optional<bool>(v, "use_qk_norm", false, src);
  c.intermediate_size = get_optional<int64_t>(v, "intermediate_size", 4096, src);
  c.hidden_act = get_optional<std::string>(v, "hidden_act", "gelu", src);
  c.norm_type = get_optional<std::string>(v, "norm_type", "layer_norm", src);
  c.layer_norm_eps = get_optional<double>(v, "layer_norm_eps", 1e-6, src);
  c.image_size = get_square(v, "image_size", 448, src);
  c.patch_size = get_square(v, "patch_size", 14, src);
  c.num_channels = get_optional<int64_t>(v, "num_channels", 3, src);
  c.use_absolute_position_embeddings = get_optional<bool>(v, "use_absolute_position_embeddings", true, src);
  c.layer_scale_init_value = get_optional<double>(v, "layer_scale_init_value", 0.1, src);
  c.use_mean_pooling = get_optional<bool>(v, "use_mean_pooling", true, src);
  c.initializer_range = get_optional<double>(v, "initializer_range", 0.02, src);
  RIL_CONFIG_CHECK(!get_optional<bool>(v, "use_mask_token", false, src), src,
                   ": key 'use_mask_token' = true is not supported (masked image modelling only)");
  c.validate(src);
  return c;
}

}  // namespace

void InternVLVisionConfig::validate(const std::string& source) const {
  for (auto [v, key] : {std::pair{hidden_size, "hidden_size"}, {num_hidden_layers, "num_hidden_layers"},
                        {num_attention_heads, "num_attention_heads"}, {intermediate_size, "intermediate_size"},
                        {image_size, "image_size"}, {patch_size, "patch_size"}, {num_channels, "num_channels"}}) {
    check_positive(v, key, source);
  }
  RIL_CONFIG_CHECK(hidden_size % num_attention_heads == 0, source, ": key 'hidden_size' (", hidden_size,
                   ") must be a multiple of 'num_attention_heads' (", num_attention_heads, ")");
  RIL_CONFIG_CHECK(norm_type == "layer_norm" || norm_type == "rms_norm", source, ": key 'norm_type' = '",
                   norm_type, "' is not supported (supported: layer_norm, rms_norm)");
  RIL_CONFIG_CHECK(hidden_act == "gelu", source, ": key 'hidden_act' = '", hidden_act,
                   "' is not supported (supported: gelu)");
  RIL_CONFIG_CHECK(image_size % patch_size == 0 && grid() % 2 == 0, source, ": key 'image_size' (", image_size,
                   ") must be an even number of 'patch_size' (", patch_size, ") patches for the pixel shuffle");
  RIL_CONFIG_CHECK(layer_norm_eps > 0, source, ": key 'layer_norm_eps' must be > 0");
}

void InternVLImageProcessorConfig::validate(const std::string& source) const {
  check_positive(min_patches, "min_patches", source);
  RIL_CONFIG_CHECK(max_patches >= min_patches, source, ": key 'max_patches' (", max_patches,
                   ") must be >= 'min_patches' (", min_patches, ")");
  for (double s : image_std) RIL_CONFIG_CHECK(s > 0, source, ": key 'image_std' must be > 0");
}

int64_t InternVLConfig::tokens_per_tile() const {
  const auto g = static_cast<int64_t>(std::llround(static_cast<double>(vision_config.grid()) * downsample_ratio));
  return g * g;
}

void InternVLConfig::validate(const std::string& source) const {
  text_config.validate(source + " (text_config)");
  vision_config.validate(source + " (vision_config)");
  RIL_CONFIG_CHECK(image_token_id >= 0, source, ": key 'image_token_id' must be >= 0, got ", image_token_id);
  RIL_CONFIG_CHECK(downsample_ratio == 0.5, source, ": key 'downsample_ratio' = ", downsample_ratio,
                   " is not supported (supported: 0.5)");
  RIL_CONFIG_CHECK(projector_hidden_act == "gelu", source, ": key 'projector_hidden_act' = '",
                   projector_hidden_act, "' is not supported (supported: gelu)");
  RIL_CONFIG_CHECK(vision_feature_select_strategy == "default", source,
                   ": key 'vision_feature_select_strategy' = '", vision_feature_select_strategy,
                   "' is not supported (supported: default; the CLS token cannot be pixel-shuffled)");
  const int64_t n = vision_config.num_hidden_layers;
  RIL_CONFIG_CHECK(vision_feature_layer >= -(n + 1) && vision_feature_layer <= n, source,
                   ": key 'vision_feature_layer' = ", vision_feature_layer, " is out of range for ", n,
                   " vision layers");
  RIL_CONFIG_CHECK(image_seq_length == tokens_per_tile(), source, ": key 'image_seq_length' = ", image_seq_length,
                   " but a ", vision_config.image_size, "-px tile of ", vision_config.patch_size,
                   "-px patches gives ", tokens_per_tile(), " tokens after the pixel shuffle");
  image_processor.validate(source + " (image processor)");
}

InternVLConfig parse_internvl_config(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": config must be a JSON object");
  const auto model_type = get_required<std::string>(j, "model_type", source);
  RIL_CONFIG_CHECK(model_type == "internvl", source, ": key 'model_type' = '", model_type,
                   "' is not an InternVL config");
  check_architectures(j, {"InternVLForConditionalGeneration"}, source);
  RIL_CONFIG_CHECK(j.contains("vision_config"), source, ": missing required key 'vision_config'");
  InternVLConfig c;
  c.text_config = parse_nested_qwen2_config(j, source, /*require_model_type=*/false);
  c.vision_config = parse_vision(j.at("vision_config"), source + " (vision_config)");
  c.image_token_id = get_optional<int64_t>(j, "image_token_index", 151667, source);
  c.image_token_id = get_optional<int64_t>(j, "image_token_id", c.image_token_id, source);
  c.downsample_ratio = get_optional<double>(j, "downsample_ratio", 0.5, source);
  c.image_seq_length = get_optional<int64_t>(j, "image_seq_length", c.tokens_per_tile(), source);
  c.projector_hidden_act = get_optional<std::string>(j, "projector_hidden_act", "gelu", source);
  RIL_CONFIG_CHECK(!(j.contains("vision_feature_layer") && j.at("vision_feature_layer").is_array()), source,
                   ": key 'vision_feature_layer' = ", j.at("vision_feature_layer").dump(),
                   " is not supported (a list of layers)");
  c.vision_feature_layer = get_optional<int64_t>(j, "vision_feature_layer", -1, source);
  c.vision_feature_select_strategy =
      get_optional<std::string>(j, "vision_feature_select_strategy", "default", source);
  c.validate(source);
  return c;
}

void parse_internvl_image_processor(const json& j, const std::string& source, InternVLConfig& config) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": must be a JSON object");
  const auto type = get_optional<std::string>(j, "image_processor_type", "GotOcr2ImageProcessor", source);
  RIL_CONFIG_CHECK(type == "GotOcr2ImageProcessor" || type == "GotOcr2ImageProcessorFast", source,
                   ": key 'image_processor_type' = '", type,
                   "' is not supported (supported: GotOcr2ImageProcessor, GotOcr2ImageProcessorFast)");
  check_fixed_processor_keys(j, source);
  RIL_CONFIG_CHECK(!get_optional<bool>(j, "do_center_crop", false, source), source,
                   ": key 'do_center_crop' = true is not supported");
  if (j.contains("size") && j.at("size").is_object()) {
    const int64_t s = config.vision_config.image_size;
    const int64_t h = get_optional<int64_t>(j.at("size"), "height", s, source + " (size)");
    const int64_t w = get_optional<int64_t>(j.at("size"), "width", s, source + " (size)");
    RIL_CONFIG_CHECK(h == s && w == s, source, ": key 'size' = ", j.at("size").dump(),
                     " differs from the vision tower's image_size ", s, " (config.json)");
  }
  InternVLImageProcessorConfig& p = config.image_processor;
  p.crop_to_patches = get_optional<bool>(j, "crop_to_patches", p.crop_to_patches, source);
  p.min_patches = get_optional<int64_t>(j, "min_patches", p.min_patches, source);
  p.max_patches = get_optional<int64_t>(j, "max_patches", p.max_patches, source);
  p.image_mean = get_rgb(j, "image_mean", p.image_mean, source);
  p.image_std = get_rgb(j, "image_std", p.image_std, source);
  p.validate(source);
}

json internvl_config_to_json(const InternVLConfig& c) {
  json text = qwen2_config_to_json(c.text_config);
  text.erase("architectures");
  const InternVLVisionConfig& v = c.vision_config;
  json vision = {{"model_type", "internvl_vision"}, {"hidden_size", v.hidden_size},
                 {"num_hidden_layers", v.num_hidden_layers}, {"num_attention_heads", v.num_attention_heads},
                 {"attention_bias", v.attention_bias}, {"use_qk_norm", v.use_qk_norm},
                 {"intermediate_size", v.intermediate_size}, {"hidden_act", v.hidden_act},
                 {"norm_type", v.norm_type}, {"layer_norm_eps", v.layer_norm_eps},
                 {"image_size", {v.image_size, v.image_size}}, {"patch_size", {v.patch_size, v.patch_size}},
                 {"num_channels", v.num_channels}, {"use_mask_token", false},
                 {"use_absolute_position_embeddings", v.use_absolute_position_embeddings},
                 {"layer_scale_init_value", v.layer_scale_init_value}, {"use_mean_pooling", v.use_mean_pooling},
                 {"initializer_range", v.initializer_range}, {"attention_dropout", 0.0},
                 {"projection_dropout", 0.0}, {"hidden_dropout_prob", 0.0}};
  return {{"architectures", {"InternVLForConditionalGeneration"}}, {"model_type", "internvl"},
          {"text_config", text}, {"vision_config", vision}, {"image_token_id", c.image_token_id},
          {"image_seq_length", c.image_seq_length}, {"downsample_ratio", c.downsample_ratio},
          {"projector_hidden_act", c.projector_hidden_act}, {"vision_feature_layer", c.vision_feature_layer},
          {"vision_feature_select_strategy", c.vision_feature_select_strategy},
          {"tie_word_embeddings", c.text_config.tie_word_embeddings}, {"torch_dtype", c.text_config.torch_dtype}};
}

json internvl_image_processor_to_json(const InternVLConfig& c) {
  const InternVLImageProcessorConfig& p = c.image_processor;
  const int64_t s = c.vision_config.image_size;
  return {{"image_processor_type", "GotOcr2ImageProcessor"}, {"processor_class", "InternVLProcessor"},
          {"do_resize", true}, {"size", {{"height", s}, {"width", s}}}, {"resample", 3},
          {"do_rescale", true}, {"rescale_factor", 1.0 / 255.0}, {"do_normalize", true},
          {"do_convert_rgb", true}, {"image_mean", p.image_mean}, {"image_std", p.image_std},
          {"crop_to_patches", p.crop_to_patches}, {"min_patches", p.min_patches},
          {"max_patches", p.max_patches}};
}

}  // namespace ril::model
