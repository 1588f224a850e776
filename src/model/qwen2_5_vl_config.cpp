#include "ril/model/qwen2_5_vl_config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "config_json.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::model {
namespace {

using json = nlohmann::json;
using namespace config_json;

// The text decoder: `text_config` (4.53+/5.x) or the top level (4.x hub files). Absent keys take
// Qwen2_5_VLTextConfig's class defaults.
Qwen2Config parse_text(const json& root, const std::string& source) {
  const bool nested = root.contains("text_config") && root.at("text_config").is_object();
  json t = nested ? root.at("text_config") : root;
  const std::string src = nested ? source + " (text_config)" : source;
  if (nested) {
    const auto type = get_optional<std::string>(t, "model_type", "qwen2_5_vl_text", src);
    RIL_CONFIG_CHECK(type == "qwen2_5_vl_text" || type == "qwen2_5_vl", src, ": key 'model_type' = '", type,
                     "' is not supported for the Qwen2.5-VL text model (supported: qwen2_5_vl_text)");
    // Tying: text_config's; files that keep it only at the top level (4.x) tie from there.
    const bool top = root.contains("tie_word_embeddings") && root.at("tie_word_embeddings").is_boolean();
    if (!t.contains("tie_word_embeddings") && top) {
      t["tie_word_embeddings"] = root.at("tie_word_embeddings");
    } else if (top && t.at("tie_word_embeddings") != root.at("tie_word_embeddings")) {
      log_warn("model", source, ": top-level tie_word_embeddings differs from text_config's; using text_config's");
    }
  }
  fill_defaults(t, {{"vocab_size", 152064}, {"hidden_size", 8192}, {"intermediate_size", 29568},
                    {"num_hidden_layers", 80}, {"num_attention_heads", 64}, {"num_key_value_heads", 8},
                    {"max_position_embeddings", 32768}, {"rms_norm_eps", 1e-5}, {"hidden_act", "silu"},
                    {"tie_word_embeddings", false}});
  const bool theta = t.contains("rope_theta") ||
                     (t.contains("rope_parameters") && t.at("rope_parameters").contains("rope_theta")) ||
                     (t.contains("rope_scaling") && t.at("rope_scaling").contains("rope_theta"));
  if (!theta) t["rope_theta"] = 1000000.0;  // Qwen2_5_VLTextConfig default
  Qwen2Config c = parse_text_decoder_keys(t, src);
  RIL_CONFIG_CHECK(!c.mrope_section.empty(), src,
                   ": missing required key 'rope_scaling.mrope_section' (or 'rope_parameters.mrope_section')");
  RIL_CONFIG_CHECK(c.rope_type == "default", src, ": rope type '", c.rope_type,
                   "' is not supported with M-RoPE (supported: default/mrope)");
  return c;
}

Qwen2_5_VisionConfig parse_vision(const json& v, const std::string& src) {
  RIL_CONFIG_CHECK(v.is_object(), src, ": must be a JSON object");
  const auto type = get_optional<std::string>(v, "model_type", "qwen2_5_vl", src);
  RIL_CONFIG_CHECK(type == "qwen2_5_vl" || type == "qwen2_5_vl_vision", src, ": key 'model_type' = '", type,
                   "' is not supported for the Qwen2.5-VL vision tower (supported: qwen2_5_vl)");
  Qwen2_5_VisionConfig c;  // HF Qwen2_5_VLVisionConfig class defaults below
  c.depth = get_optional<int64_t>(v, "depth", 32, src);
  c.hidden_size = get_optional<int64_t>(v, "hidden_size", 3584, src);
  c.hidden_act = get_optional<std::string>(v, "hidden_act", "silu", src);
  c.intermediate_size = get_optional<int64_t>(v, "intermediate_size", 3420, src);
  c.num_heads = get_optional<int64_t>(v, "num_heads", 16, src);
  c.in_channels = get_optional<int64_t>(v, "in_chans", 3, src);
  c.in_channels = get_optional<int64_t>(v, "in_channels", c.in_channels, src);
  c.patch_size = get_optional<int64_t>(v, "patch_size", 14, src);
  c.spatial_merge_size = get_optional<int64_t>(v, "spatial_merge_size", 2, src);
  c.temporal_patch_size = get_optional<int64_t>(v, "temporal_patch_size", 2, src);
  c.tokens_per_second = get_optional<int64_t>(v, "tokens_per_second", 4, src);
  c.window_size = get_optional<int64_t>(v, "window_size", 112, src);
  c.out_hidden_size = get_optional<int64_t>(v, "out_hidden_size", 3584, src);
  c.fullatt_block_indexes =
      get_optional<std::vector<int64_t>>(v, "fullatt_block_indexes", {7, 15, 23, 31}, src);
  c.initializer_range = get_optional<double>(v, "initializer_range", 0.02, src);
  c.validate(src);
  return c;
}

}  // namespace

void Qwen2_5_VisionConfig::validate(const std::string& source) const {
  for (auto [v, key] : {std::pair{depth, "depth"}, {hidden_size, "hidden_size"}, {intermediate_size, "intermediate_size"},
                        {num_heads, "num_heads"}, {in_channels, "in_channels"}, {patch_size, "patch_size"},
                        {spatial_merge_size, "spatial_merge_size"}, {temporal_patch_size, "temporal_patch_size"},
                        {window_size, "window_size"}, {out_hidden_size, "out_hidden_size"}}) {
    check_positive(v, key, source);
  }
  RIL_CONFIG_CHECK(hidden_size % num_heads == 0 && head_dim() % 4 == 0, source, ": key 'hidden_size' (",
                   hidden_size, ") / 'num_heads' (", num_heads,
                   ") must be a head dim divisible by 4 (2-D rotary embeddings)");
  RIL_CONFIG_CHECK(hidden_act == "silu", source, ": key 'hidden_act' = '", hidden_act,
                   "' is not supported (supported: silu)");
  RIL_CONFIG_CHECK(merged_window() >= 1, source, ": key 'window_size' (", window_size,
                   ") must be at least patch_size * spatial_merge_size (", patch_size * spatial_merge_size, ")");
  for (int64_t i : fullatt_block_indexes) {
    RIL_CONFIG_CHECK(i >= 0 && i < depth, source, ": key 'fullatt_block_indexes' has ", i,
                     ", outside [0, depth = ", depth, ")");
  }
}

void Qwen2VLImageProcessorConfig::validate(const std::string& source) const {
  check_positive(min_pixels, "min_pixels", source);
  RIL_CONFIG_CHECK(max_pixels >= min_pixels, source, ": key 'max_pixels' (", max_pixels,
                   ") must be >= 'min_pixels' (", min_pixels, ")");
  for (double s : image_std) RIL_CONFIG_CHECK(s > 0, source, ": key 'image_std' must be > 0");
}

void Qwen2_5_VLConfig::validate(const std::string& source) const {
  text_config.validate(source + " (text_config)");
  vision_config.validate(source + " (vision_config)");
  RIL_CONFIG_CHECK(!text_config.mrope_section.empty(), source, ": the text model needs 'mrope_section'");
  RIL_CONFIG_CHECK(vision_config.out_hidden_size == text_config.hidden_size, source,
                   ": key 'vision_config.out_hidden_size' (", vision_config.out_hidden_size,
                   ") must equal the text hidden_size (", text_config.hidden_size, ")");
  RIL_CONFIG_CHECK(image_token_id >= 0, source, ": key 'image_token_id' must be >= 0, got ", image_token_id);
  image_processor.validate(source + " (image processor)");
}

Qwen2_5_VLConfig parse_qwen2_5_vl_config(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": config must be a JSON object");
  const auto model_type = get_required<std::string>(j, "model_type", source);
  RIL_CONFIG_CHECK(model_type == "qwen2_5_vl", source, ": key 'model_type' = '", model_type,
                   "' is not a Qwen2.5-VL config");
  check_architectures(j, {"Qwen2_5_VLForConditionalGeneration"}, source);
  RIL_CONFIG_CHECK(j.contains("vision_config"), source, ": missing required key 'vision_config'");
  Qwen2_5_VLConfig c;
  c.text_config = parse_text(j, source);
  c.vision_config = parse_vision(j.at("vision_config"), source + " (vision_config)");
  c.image_token_id = get_optional<int64_t>(j, "image_token_id", 151655, source);
  c.video_token_id = get_optional<int64_t>(j, "video_token_id", 151656, source);
  c.vision_start_token_id = get_optional<int64_t>(j, "vision_start_token_id", 151652, source);
  c.vision_end_token_id = get_optional<int64_t>(j, "vision_end_token_id", 151653, source);
  c.validate(source);
  return c;
}

void parse_qwen2_vl_image_processor(const json& j, const std::string& source, Qwen2_5_VLConfig& config) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": must be a JSON object");
  const auto type = get_optional<std::string>(j, "image_processor_type", "Qwen2VLImageProcessor", source);
  RIL_CONFIG_CHECK(type == "Qwen2VLImageProcessor" || type == "Qwen2VLImageProcessorFast", source,
                   ": key 'image_processor_type' = '", type,
                   "' is not supported (supported: Qwen2VLImageProcessor, Qwen2VLImageProcessorFast)");
  check_fixed_processor_keys(j, source);
  Qwen2VLImageProcessorConfig& p = config.image_processor;
  if (j.contains("size") && j.at("size").is_object()) {
    p.min_pixels = get_optional<int64_t>(j.at("size"), "shortest_edge", p.min_pixels, source + " (size)");
    p.max_pixels = get_optional<int64_t>(j.at("size"), "longest_edge", p.max_pixels, source + " (size)");
  }
  p.min_pixels = get_optional<int64_t>(j, "min_pixels", p.min_pixels, source);  // HF: these win over size
  p.max_pixels = get_optional<int64_t>(j, "max_pixels", p.max_pixels, source);
  p.image_mean = get_rgb(j, "image_mean", p.image_mean, source);
  p.image_std = get_rgb(j, "image_std", p.image_std, source);
  const Qwen2_5_VisionConfig& v = config.vision_config;
  for (auto [key, want] : {std::pair{"patch_size", v.patch_size}, {"temporal_patch_size", v.temporal_patch_size},
                           {"merge_size", v.spatial_merge_size}}) {
    const int64_t got = get_optional<int64_t>(j, key, want, source);
    RIL_CONFIG_CHECK(got == want, source, ": key '", key, "' = ", got,
                     " differs from the vision tower's (config.json vision_config: ", want, ")");
  }
  p.validate(source);
}

json qwen2_5_vl_config_to_json(const Qwen2_5_VLConfig& c) {
  json text = qwen2_config_to_json(c.text_config);
  text.erase("architectures");
  text["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", c.text_config.mrope_section}};
  text["rope_parameters"]["mrope_section"] = c.text_config.mrope_section;
  json j = text;  // 4.x hub layout: the text keys at the top level
  j["architectures"] = {"Qwen2_5_VLForConditionalGeneration"};
  j["model_type"] = "qwen2_5_vl";
  text["model_type"] = "qwen2_5_vl_text";
  j["text_config"] = text;  // 4.53+/5.x readers
  const Qwen2_5_VisionConfig& v = c.vision_config;
  j["vision_config"] = {{"model_type", "qwen2_5_vl"}, {"depth", v.depth}, {"hidden_size", v.hidden_size},
                        {"hidden_act", v.hidden_act}, {"intermediate_size", v.intermediate_size},
                        {"num_heads", v.num_heads}, {"in_chans", v.in_channels}, {"in_channels", v.in_channels},
                        {"patch_size", v.patch_size}, {"spatial_patch_size", v.patch_size},
                        {"spatial_merge_size", v.spatial_merge_size}, {"temporal_patch_size", v.temporal_patch_size},
                        {"tokens_per_second", v.tokens_per_second}, {"window_size", v.window_size},
                        {"out_hidden_size", v.out_hidden_size}, {"fullatt_block_indexes", v.fullatt_block_indexes},
                        {"initializer_range", v.initializer_range}};
  j["image_token_id"] = c.image_token_id;
  if (c.video_token_id >= 0) j["video_token_id"] = c.video_token_id;
  if (c.vision_start_token_id >= 0) j["vision_start_token_id"] = c.vision_start_token_id;
  if (c.vision_end_token_id >= 0) j["vision_end_token_id"] = c.vision_end_token_id;
  return j;
}

json qwen2_vl_image_processor_to_json(const Qwen2_5_VLConfig& c) {
  const Qwen2VLImageProcessorConfig& p = c.image_processor;
  const Qwen2_5_VisionConfig& v = c.vision_config;
  return {{"image_processor_type", "Qwen2VLImageProcessor"}, {"processor_class", "Qwen2_5_VLProcessor"},
          {"do_resize", true}, {"resample", 3}, {"do_rescale", true}, {"rescale_factor", 1.0 / 255.0},
          {"do_normalize", true}, {"do_convert_rgb", true}, {"image_mean", p.image_mean},
          {"image_std", p.image_std}, {"min_pixels", p.min_pixels}, {"max_pixels", p.max_pixels},
          {"size", {{"shortest_edge", p.min_pixels}, {"longest_edge", p.max_pixels}}},
          {"patch_size", v.patch_size}, {"temporal_patch_size", v.temporal_patch_size},
          {"merge_size", v.spatial_merge_size}};
}

}  // namespace ril::model
