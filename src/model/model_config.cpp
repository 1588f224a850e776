#include "ril/model/model_config.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "config_json.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::model {
namespace {

using json = nlohmann::json;
using namespace config_json;

}  // namespace

const char* model_kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::kLlava: return "llava";
    case ModelKind::kQwen2_5_VL: return "qwen2_5_vl";
    case ModelKind::kInternVL: return "internvl";
    default: return "qwen2";
  }
}

json config_json::read_json_file(const std::string& file) {
  std::ifstream in(file);
  RIL_CONFIG_CHECK(in.good(), file, ": cannot open");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw ConfigError(cat(file, ": not valid JSON: ", e.what()));
  }
  return j;
}

void config_json::check_fixed_processor_keys(const json& j, const std::string& source) {
  for (const char* key : {"do_resize", "do_rescale", "do_normalize"}) {
    RIL_CONFIG_CHECK(get_optional<bool>(j, key, true, source), source, ": key '", key, "' = false is not supported");
  }
  const double rescale = get_optional<double>(j, "rescale_factor", 1.0 / 255.0, source);
  RIL_CONFIG_CHECK(std::abs(rescale - 1.0 / 255.0) < 1e-9, source, ": key 'rescale_factor' = ", rescale,
                   " is not supported (only 1/255)");
  const int64_t resample = get_optional<int64_t>(j, "resample", 3, source);
  RIL_CONFIG_CHECK(resample == 3, source, ": key 'resample' = ", resample, " is not supported (only 3, bicubic)");
}

const Qwen2Config& ModelConfig::text() const {
  switch (kind) {
    case ModelKind::kLlava: return llava.text_config;
    case ModelKind::kQwen2_5_VL: return qwen2_5_vl.text_config;
    case ModelKind::kInternVL: return internvl.text_config;
    default: return qwen2;
  }
}

Qwen2Config& ModelConfig::text() {
  return const_cast<Qwen2Config&>(static_cast<const ModelConfig*>(this)->text());
}

int64_t ModelConfig::image_token_id() const {
  switch (kind) {
    case ModelKind::kLlava: return llava.image_token_index;
    case ModelKind::kQwen2_5_VL: return qwen2_5_vl.image_token_id;
    case ModelKind::kInternVL: return internvl.image_token_id;
    default: return -1;
  }
}

void ModelConfig::set_image_token_id(int64_t id) {
  switch (kind) {
    case ModelKind::kLlava: llava.image_token_index = id; break;
    case ModelKind::kQwen2_5_VL: qwen2_5_vl.image_token_id = id; break;
    case ModelKind::kInternVL: internvl.image_token_id = id; break;
    default: throw Error(cat("set_image_token_id: a text-only ", model_kind_name(kind), " model has no image token"));
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

void SiglipVisionConfig::validate(const std::string& source) const {
  check_positive(hidden_size, "hidden_size", source);
  check_positive(intermediate_size, "intermediate_size", source);
  check_positive(num_hidden_layers, "num_hidden_layers", source);
  check_positive(num_attention_heads, "num_attention_heads", source);
  check_positive(num_channels, "num_channels", source);
  check_positive(image_size, "image_size", source);
  check_positive(patch_size, "patch_size", source);
  RIL_CONFIG_CHECK(hidden_size % num_attention_heads == 0, source, ": key 'hidden_size' (",
                   hidden_size, ") must be a multiple of 'num_attention_heads' (",
                   num_attention_heads, ")");
  // No divisibility check: the patch conv has no padding and floors (so400m: 384 / 14 -> 27).
  RIL_CONFIG_CHECK(image_size >= patch_size, source, ": key 'image_size' (", image_size,
                   ") must be >= 'patch_size' (", patch_size, ")");
  RIL_CONFIG_CHECK(hidden_act == "gelu_pytorch_tanh" || hidden_act == "gelu", source,
                   ": key 'hidden_act' = '", hidden_act,
                   "' is not supported (supported: gelu_pytorch_tanh, gelu)");
}

int64_t LlavaConfig::num_image_tokens() const {
  int64_t n = vision_config.num_patches();
  if (vision_feature_select_strategy == "default") n -= 1;
  return n;
}

void LlavaConfig::validate(const std::string& source) const {
  text_config.validate(source + " (text_config)");
  vision_config.validate(source + " (vision_config)");
  RIL_CONFIG_CHECK(image_token_index >= 0, source, ": key 'image_token_index' must be >= 0, got ",
                   image_token_index);
  RIL_CONFIG_CHECK(projector_hidden_act == "gelu" || projector_hidden_act == "gelu_pytorch_tanh",
                   source, ": key 'projector_hidden_act' = '", projector_hidden_act,
                   "' is not supported (supported: gelu, gelu_pytorch_tanh)");
  RIL_CONFIG_CHECK(vision_feature_select_strategy == "full" ||
                       vision_feature_select_strategy == "default",
                   source, ": key 'vision_feature_select_strategy' = '",
                   vision_feature_select_strategy, "' (supported: default, full)");
  RIL_CONFIG_CHECK(!vision_feature_layers.empty(), source,
                   ": key 'vision_feature_layer' is empty");
  const int64_t n = vision_config.num_hidden_layers;
  for (int64_t layer : vision_feature_layers) {
    RIL_CONFIG_CHECK(layer >= -(n + 1) && layer <= n, source, ": key 'vision_feature_layer' = ",
                     layer, " is out of range for ", n, " vision layers (hidden_states has ",
                     n + 1, " entries)");
  }
}

void ModelConfig::validate(const std::string& source) const {
  switch (kind) {
    case ModelKind::kLlava: return llava.validate(source);
    case ModelKind::kQwen2_5_VL: return qwen2_5_vl.validate(source);
    case ModelKind::kInternVL: return internvl.validate(source);
    default: return qwen2.validate(source);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

SiglipVisionConfig parse_siglip_vision_config(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": SigLIP vision config must be a JSON object");
  const auto model_type =
      get_optional<std::string>(j, "model_type", "siglip_vision_model", source);
  RIL_CONFIG_CHECK(model_type == "siglip_vision_model", source, ": key 'model_type' = '",
                   model_type,
                   "' is not supported for the vision tower (supported: siglip_vision_model)");
  SiglipVisionConfig c;
  // HF SiglipVisionConfig defaults (so400m configs omit few keys; base ones omit many).
  c.hidden_size = get_optional<int64_t>(j, "hidden_size", 768, source);
  c.intermediate_size = get_optional<int64_t>(j, "intermediate_size", 3072, source);
  c.num_hidden_layers = get_optional<int64_t>(j, "num_hidden_layers", 12, source);
  c.num_attention_heads = get_optional<int64_t>(j, "num_attention_heads", 12, source);
  c.num_channels = get_optional<int64_t>(j, "num_channels", 3, source);
  c.image_size = get_optional<int64_t>(j, "image_size", 224, source);
  c.patch_size = get_optional<int64_t>(j, "patch_size", 16, source);
  c.layer_norm_eps = get_optional<double>(j, "layer_norm_eps", 1e-6, source);
  c.hidden_act = get_optional<std::string>(j, "hidden_act", "gelu_pytorch_tanh", source);
  c.vision_use_head = get_optional<bool>(j, "vision_use_head", true, source);
  c.validate(source);
  return c;
}

LlavaConfig parse_llava_config(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": config must be a JSON object");
  const auto model_type = get_required<std::string>(j, "model_type", source);
  RIL_CONFIG_CHECK(model_type == "llava", source, ": key 'model_type' = '", model_type,
                   "' is not a LLaVA config");
  check_architectures(j, {"LlavaForConditionalGeneration"}, source);
  RIL_CONFIG_CHECK(j.contains("text_config"), source, ": missing required key 'text_config'");
  RIL_CONFIG_CHECK(j.contains("vision_config"), source, ": missing required key 'vision_config'");
  LlavaConfig c;
  c.text_config = parse_nested_qwen2_config(j, source, /*require_model_type=*/true);
  {
    const json& vision = j.at("vision_config");
    RIL_CONFIG_CHECK(vision.is_object(), source, ": key 'vision_config' must be an object");
    RIL_CONFIG_CHECK(vision.contains("model_type"), source,
                     ": missing required key 'vision_config.model_type'");
    c.vision_config = parse_siglip_vision_config(vision, source + " (vision_config)");
  }
  if (j.contains("image_token_index") && !j.at("image_token_index").is_null()) {
    c.image_token_index = get_required<int64_t>(j, "image_token_index", source);
  } else if (j.contains("image_token_id") && !j.at("image_token_id").is_null()) {
    c.image_token_index = get_required<int64_t>(j, "image_token_id", source);
  } else {
    throw ConfigError(cat(source, ": missing required key 'image_token_index' (or 'image_token_id')"));
  }
  c.projector_hidden_act = get_optional<std::string>(j, "projector_hidden_act", "gelu", source);
  // HF LlavaConfig defaults: vision_feature_layer -2, strategy "default".
  if (j.contains("vision_feature_layer") && j.at("vision_feature_layer").is_array()) {
    c.vision_feature_layers = get_required<std::vector<int64_t>>(j, "vision_feature_layer", source);
    c.vision_feature_layer_is_list = true;
  } else {
    c.vision_feature_layers = {get_optional<int64_t>(j, "vision_feature_layer", -2, source)};
  }
  c.vision_feature_select_strategy =
      get_optional<std::string>(j, "vision_feature_select_strategy", "default", source);
  c.multimodal_projector_bias = get_optional<bool>(j, "multimodal_projector_bias", true, source);
  c.validate(source);
  return c;
}

ModelConfig parse_model_config(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": config must be a JSON object");
  const auto model_type = get_required<std::string>(j, "model_type", source);
  ModelConfig c;
  if (model_type == "qwen2") {
    c.kind = ModelKind::kQwen2;
    c.qwen2 = parse_qwen2_config(j, source);
  } else if (model_type == "llava") {
    c.kind = ModelKind::kLlava;
    c.llava = parse_llava_config(j, source);
  } else if (model_type == "qwen2_5_vl") {
    c.kind = ModelKind::kQwen2_5_VL;
    c.qwen2_5_vl = parse_qwen2_5_vl_config(j, source);
  } else if (model_type == "internvl") {
    c.kind = ModelKind::kInternVL;
    c.internvl = parse_internvl_config(j, source);
  } else {
    throw ConfigError(cat(source, ": key 'model_type' = '", model_type,
                          "' is not supported (supported: qwen2, llava, qwen2_5_vl, internvl)"));
  }
  return c;
}

ModelConfig load_model_config(const std::string& path) {
  const bool dir = is_directory(path);
  const std::string file = dir ? path + "/config.json" : path;
  ModelConfig c = parse_model_config(read_json_file(file), file);
  const std::string pre = path + "/preprocessor_config.json";
  if (dir && is_file(pre)) {
    if (c.kind == ModelKind::kQwen2_5_VL) parse_qwen2_vl_image_processor(read_json_file(pre), pre, c.qwen2_5_vl);
    if (c.kind == ModelKind::kInternVL) parse_internvl_image_processor(read_json_file(pre), pre, c.internvl);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Writing

json siglip_vision_config_to_json(const SiglipVisionConfig& c) {
  json j;
  j["model_type"] = "siglip_vision_model";
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_channels"] = c.num_channels;
  j["image_size"] = c.image_size;
  j["patch_size"] = c.patch_size;
  j["layer_norm_eps"] = c.layer_norm_eps;
  j["hidden_act"] = c.hidden_act;
  j["attention_dropout"] = 0.0;
  j["vision_use_head"] = false;  // we never build or save the pooling head
  return j;
}

json llava_config_to_json(const LlavaConfig& c) {
  json j;
  j["architectures"] = {"LlavaForConditionalGeneration"};
  j["model_type"] = "llava";
  json text = qwen2_config_to_json(c.text_config);
  text.erase("architectures");
  j["text_config"] = text;
  j["vision_config"] = siglip_vision_config_to_json(c.vision_config);
  j["image_token_index"] = c.image_token_index;
  j["projector_hidden_act"] = c.projector_hidden_act;
  if (c.vision_feature_layer_is_list) {
    j["vision_feature_layer"] = c.vision_feature_layers;
  } else {
    j["vision_feature_layer"] = c.vision_feature_layers.at(0);
  }
  j["vision_feature_select_strategy"] = c.vision_feature_select_strategy;
  j["multimodal_projector_bias"] = c.multimodal_projector_bias;
  j["image_seq_length"] = c.num_image_tokens();
  j["tie_word_embeddings"] = c.text_config.tie_word_embeddings;
  j["torch_dtype"] = c.text_config.torch_dtype;
  return j;
}

json model_config_to_json(const ModelConfig& c) {
  switch (c.kind) {
    case ModelKind::kLlava: return llava_config_to_json(c.llava);
    case ModelKind::kQwen2_5_VL: return qwen2_5_vl_config_to_json(c.qwen2_5_vl);
    case ModelKind::kInternVL: return internvl_config_to_json(c.internvl);
    default: return qwen2_config_to_json(c.qwen2);
  }
}

namespace {

void write_json_atomically(const json& j, const std::string& file) {
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp);
    RIL_CHECK(out.good(), file, ": cannot write");
    out << j.dump(2) << "\n";
    RIL_CHECK(out.good(), file, ": write failed");
  }
  RIL_CHECK(std::rename(tmp.c_str(), file.c_str()) == 0, file, ": rename from ", tmp, " failed");
}

}  // namespace

void save_model_config(const ModelConfig& config, const std::string& path) {
  const bool dir = is_directory(path);
  write_json_atomically(model_config_to_json(config), dir ? path + "/config.json" : path);
  if (!dir) return;
  if (config.kind == ModelKind::kQwen2_5_VL) {
    write_json_atomically(qwen2_vl_image_processor_to_json(config.qwen2_5_vl), path + "/preprocessor_config.json");
  } else if (config.kind == ModelKind::kInternVL) {
    write_json_atomically(internvl_image_processor_to_json(config.internvl), path + "/preprocessor_config.json");
  }
}

}  // namespace ril::model
