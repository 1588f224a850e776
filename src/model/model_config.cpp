#include "ril/model/model_config.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::model {
namespace {

using json = nlohmann::json;

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Typed getters: a wrong type or a missing required key names file and key.
template <typename T>
T get_required(const json& j, const char* key, const std::string& source) {
  RIL_CONFIG_CHECK(j.contains(key), source, ": missing required key '", key, "'");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw ConfigError(cat(source, ": key '", key, "' has the wrong type (", j.at(key).dump(),
                          "): ", e.what()));
  }
}

template <typename T>
T get_optional(const json& j, const char* key, const T& fallback, const std::string& source) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw ConfigError(cat(source, ": key '", key, "' has the wrong type (", j.at(key).dump(),
                          "): ", e.what()));
  }
}

void check_positive(int64_t value, const char* key, const std::string& source) {
  RIL_CONFIG_CHECK(value > 0, source, ": key '", key, "' must be > 0, got ", value);
}

void check_architectures(const json& j, const std::vector<std::string>& supported,
                         const std::string& source) {
  if (!j.contains("architectures") || j.at("architectures").is_null()) return;
  const json& arch = j.at("architectures");
  RIL_CONFIG_CHECK(arch.is_array(), source, ": key 'architectures' must be a list");
  for (const json& a : arch) {
    const bool ok = a.is_string() && std::find(supported.begin(), supported.end(),
                                               a.get<std::string>()) != supported.end();
    RIL_CONFIG_CHECK(ok, source, ": key 'architectures' = ", arch.dump(),
                     " is not supported (supported: ", json(supported).dump(), ")");
  }
}

}  // namespace

const char* model_kind_name(ModelKind kind) {
  return kind == ModelKind::kLlava ? "llava" : "qwen2";
}

// ---------------------------------------------------------------------------------------------
// Validation

void Qwen2Config::validate(const std::string& source) const {
  check_positive(vocab_size, "vocab_size", source);
  check_positive(hidden_size, "hidden_size", source);
  check_positive(intermediate_size, "intermediate_size", source);
  check_positive(num_hidden_layers, "num_hidden_layers", source);
  check_positive(num_attention_heads, "num_attention_heads", source);
  check_positive(num_key_value_heads, "num_key_value_heads", source);
  check_positive(max_position_embeddings, "max_position_embeddings", source);
  RIL_CONFIG_CHECK(num_attention_heads % num_key_value_heads == 0, source,
                   ": key 'num_attention_heads' (", num_attention_heads,
                   ") must be a multiple of 'num_key_value_heads' (", num_key_value_heads, ")");
  RIL_CONFIG_CHECK(head_dim > 0 || hidden_size % num_attention_heads == 0, source,
                   ": key 'hidden_size' (", hidden_size, ") must be a multiple of ",
                   "'num_attention_heads' (", num_attention_heads, ") when 'head_dim' is absent");
  RIL_CONFIG_CHECK(resolved_head_dim() % 2 == 0, source, ": head dim ", resolved_head_dim(),
                   " must be even for rotary embeddings (key 'head_dim' or 'hidden_size')");
  RIL_CONFIG_CHECK(rms_norm_eps > 0, source, ": key 'rms_norm_eps' must be > 0");
  RIL_CONFIG_CHECK(rope_theta > 0, source, ": key 'rope_theta' must be > 0");
  RIL_CONFIG_CHECK(hidden_act == "silu", source, ": key 'hidden_act' = '", hidden_act,
                   "' is not supported (supported: silu)");
}

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
  if (kind == ModelKind::kLlava) {
    llava.validate(source);
  } else {
    qwen2.validate(source);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

Qwen2Config parse_qwen2_config(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": Qwen2 config must be a JSON object");
  const auto model_type = get_optional<std::string>(j, "model_type", "qwen2", source);
  RIL_CONFIG_CHECK(model_type == "qwen2", source, ": key 'model_type' = '", model_type,
                   "' is not supported for the text model (supported: qwen2)");
  check_architectures(j, {"Qwen2ForCausalLM", "Qwen2ForSequenceClassification", "Qwen2Model"},
                      source);
  Qwen2Config c;
  c.vocab_size = get_required<int64_t>(j, "vocab_size", source);
  c.hidden_size = get_required<int64_t>(j, "hidden_size", source);
  c.intermediate_size = get_required<int64_t>(j, "intermediate_size", source);
  c.num_hidden_layers = get_required<int64_t>(j, "num_hidden_layers", source);
  c.num_attention_heads = get_required<int64_t>(j, "num_attention_heads", source);
  c.num_key_value_heads =
      get_optional<int64_t>(j, "num_key_value_heads", c.num_attention_heads, source);
  c.head_dim = get_optional<int64_t>(j, "head_dim", 0, source);
  c.max_position_embeddings =
      get_optional<int64_t>(j, "max_position_embeddings", c.max_position_embeddings, source);
  c.rms_norm_eps = get_optional<double>(j, "rms_norm_eps", c.rms_norm_eps, source);
  c.tie_word_embeddings = get_optional<bool>(j, "tie_word_embeddings", false, source);
  c.hidden_act = get_optional<std::string>(j, "hidden_act", "silu", source);
  c.initializer_range = get_optional<double>(j, "initializer_range", 0.02, source);
  c.torch_dtype = get_optional<std::string>(j, "torch_dtype", "float32", source);
  if (j.contains("dtype") && j.at("dtype").is_string()) c.torch_dtype = j.at("dtype").get<std::string>();
  c.bos_token_id = get_optional<int64_t>(j, "bos_token_id", -1, source);
  if (j.contains("eos_token_id") && !j.at("eos_token_id").is_null()) {
    const json& e = j.at("eos_token_id");
    if (e.is_array()) {
      c.eos_token_ids = get_required<std::vector<int64_t>>(j, "eos_token_id", source);
    } else {
      c.eos_token_ids = {get_required<int64_t>(j, "eos_token_id", source)};
    }
  }
  // rope: 4.x top-level rope_theta; 5.x rope_parameters {rope_theta, rope_type}.
  bool have_theta = false;
  if (j.contains("rope_parameters") && !j.at("rope_parameters").is_null()) {
    const json& rp = j.at("rope_parameters");
    const std::string src = source + " (rope_parameters)";
    RIL_CONFIG_CHECK(rp.is_object(), source, ": key 'rope_parameters' must be an object");
    const auto type = get_optional<std::string>(rp, "rope_type", "default", src);
    RIL_CONFIG_CHECK(type == "default", source, ": key 'rope_parameters.rope_type' = '", type,
                     "' is not supported (supported: default)");
    if (rp.contains("rope_theta")) {
      c.rope_theta = get_required<double>(rp, "rope_theta", src);
      have_theta = true;
    }
  }
  if (j.contains("rope_scaling") && !j.at("rope_scaling").is_null()) {
    const json& rs = j.at("rope_scaling");
    const std::string type = rs.is_object()
        ? get_optional<std::string>(rs, "rope_type", get_optional<std::string>(rs, "type", "default", source), source)
        : "?";
    RIL_CONFIG_CHECK(type == "default", source, ": key 'rope_scaling' = ", rs.dump(),
                     " is not supported (only no scaling)");
  }
  if (j.contains("rope_theta") && !j.at("rope_theta").is_null()) {
    c.rope_theta = get_required<double>(j, "rope_theta", source);
    have_theta = true;
  }
  RIL_CONFIG_CHECK(have_theta, source,
                   ": missing required key 'rope_theta' (or 'rope_parameters.rope_theta')");
  const bool sliding = get_optional<bool>(j, "use_sliding_window", false, source);
  RIL_CONFIG_CHECK(!sliding, source, ": key 'use_sliding_window' = true is not supported");
  c.validate(source);
  return c;
}

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
  {
    json text = j.at("text_config");
    RIL_CONFIG_CHECK(text.is_object(), source, ": key 'text_config' must be an object");
    RIL_CONFIG_CHECK(text.contains("model_type"), source,
                     ": missing required key 'text_config.model_type'");
    // HF writes nested configs as a diff against defaults, so keys equal to the defaults may be
    // absent; HF then rebuilds Qwen2Config(**text_config) with the class defaults. Same here.
    // tie_word_embeddings: HF ties from the text config (class default False); a top-level
    // value is only informational.
    const std::vector<std::pair<const char*, json>> qwen2_defaults = {
        {"vocab_size", 151936}, {"hidden_size", 4096}, {"intermediate_size", 22016},
        {"num_hidden_layers", 32}, {"num_attention_heads", 32}, {"num_key_value_heads", 32},
        {"max_position_embeddings", 32768}, {"rms_norm_eps", 1e-6}, {"hidden_act", "silu"},
        {"tie_word_embeddings", false}};
    for (const auto& [k, v] : qwen2_defaults) {
      if (!text.contains(k)) text[k] = v;
    }
    if (!text.contains("rope_theta") && !text.contains("rope_parameters")) {
      text["rope_theta"] = 10000.0;  // Qwen2Config default
    }
    if (j.contains("tie_word_embeddings") && j.at("tie_word_embeddings").is_boolean() &&
        j.at("tie_word_embeddings") != text.at("tie_word_embeddings")) {
      log_warn("model", source, ": top-level tie_word_embeddings (",
               j.at("tie_word_embeddings").dump(), ") differs from text_config's (",
               text.at("tie_word_embeddings").dump(), "); using text_config's, as HF does");
    }
    c.text_config = parse_qwen2_config(text, source + " (text_config)");
  }
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
  } else {
    throw ConfigError(cat(source, ": key 'model_type' = '", model_type,
                          "' is not supported (supported: qwen2, llava)"));
  }
  return c;
}

ModelConfig load_model_config(const std::string& path) {
  const std::string file = is_directory(path) ? path + "/config.json" : path;
  std::ifstream in(file);
  RIL_CONFIG_CHECK(in.good(), file, ": cannot open model config");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw ConfigError(cat(file, ": not valid JSON: ", e.what()));
  }
  return parse_model_config(j, file);
}

// ---------------------------------------------------------------------------------------------
// Writing

json qwen2_config_to_json(const Qwen2Config& c) {
  json j;
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["model_type"] = "qwen2";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  if (c.head_dim > 0) j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_parameters"] = {{"rope_theta", c.rope_theta}, {"rope_type", "default"}};
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = c.hidden_act;
  j["initializer_range"] = c.initializer_range;
  j["attention_dropout"] = 0.0;
  j["use_sliding_window"] = false;
  j["use_cache"] = true;
  j["torch_dtype"] = c.torch_dtype;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  if (c.eos_token_ids.size() > 1) j["eos_token_id"] = c.eos_token_ids;
  return j;
}

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
  return c.kind == ModelKind::kLlava ? llava_config_to_json(c.llava) : qwen2_config_to_json(c.qwen2);
}

void save_model_config(const ModelConfig& config, const std::string& path) {
  const std::string file = is_directory(path) ? path + "/config.json" : path;
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp);
    RIL_CHECK(out.good(), file, ": cannot write model config");
    out << model_config_to_json(config).dump(2) << "\n";
    RIL_CHECK(out.good(), file, ": write failed");
  }
  RIL_CHECK(std::rename(tmp.c_str(), file.c_str()) == 0, file, ": rename from ", tmp, " failed");
}

// ---------------------------------------------------------------------------------------------
// Presets

namespace {

Qwen2Config tiny_qwen2() {
  Qwen2Config c;  // struct defaults are the tiny preset: d=128, 4 layers, 4/2 heads, vocab 1024
  return c;
}

Qwen2Config qwen2_0_5b() {
  Qwen2Config c;
  c.vocab_size = 151936;
  c.hidden_size = 896;
  c.intermediate_size = 4864;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 14;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 32768;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 1000000.0;
  c.tie_word_embeddings = true;
  c.bos_token_id = 151643;
  c.eos_token_ids = {151643};
  c.torch_dtype = "bfloat16";
  return c;
}

}  // namespace

std::vector<std::string> model_preset_names() {
  return {"tiny", "tiny-teacher-small", "tiny-llava", "tiny-llava-large", "qwen2-0.5b", "qwen2-1.5b",
          "llava-qwen2-0.5b-siglip"};
}

ModelConfig model_preset(const std::string& name) {
  ModelConfig m;
  if (name == "tiny") {
    m.kind = ModelKind::kQwen2;
    m.qwen2 = tiny_qwen2();
  } else if (name == "tiny-teacher-small") {
    m.kind = ModelKind::kQwen2;
    m.qwen2 = tiny_qwen2();
    m.qwen2.hidden_size = 256;
    m.qwen2.intermediate_size = 704;
    m.qwen2.num_hidden_layers = 6;
    m.qwen2.num_attention_heads = 8;
    m.qwen2.num_key_value_heads = 2;
  } else if (name == "tiny-llava") {
    m.kind = ModelKind::kLlava;
    m.llava.text_config = tiny_qwen2();
    m.llava.vision_config = SiglipVisionConfig{};  // 64x64, patch 8, hidden 64, 2 layers
    m.llava.image_token_index = m.llava.text_config.vocab_size - 1;
    m.llava.vision_feature_layers = {-1};
    m.llava.vision_feature_select_strategy = "full";
  } else if (name == "tiny-llava-large") {  // a bigger teacher of the same family (~4x the text decoder)
    m = model_preset("tiny-llava");
    Qwen2Config& t = m.llava.text_config;
    t.hidden_size = 256;
    t.intermediate_size = 704;
    t.num_hidden_layers = 6;
    t.num_attention_heads = 8;
    t.num_key_value_heads = 2;
  } else if (name == "qwen2-0.5b") {
    m.kind = ModelKind::kQwen2;
    m.qwen2 = qwen2_0_5b();
  } else if (name == "qwen2-1.5b") {
    m.kind = ModelKind::kQwen2;
    m.qwen2 = qwen2_0_5b();
    m.qwen2.hidden_size = 1536;
    m.qwen2.intermediate_size = 8960;
    m.qwen2.num_hidden_layers = 28;
    m.qwen2.num_attention_heads = 12;
    m.qwen2.num_key_value_heads = 2;
  } else if (name == "llava-qwen2-0.5b-siglip") {
    m.kind = ModelKind::kLlava;
    m.llava.text_config = qwen2_0_5b();
    SiglipVisionConfig& v = m.llava.vision_config;
    v.hidden_size = 1152;
    v.intermediate_size = 4304;
    v.num_hidden_layers = 27;
    v.num_attention_heads = 16;
    v.image_size = 384;
    v.patch_size = 14;
    v.layer_norm_eps = 1e-6;
    m.llava.image_token_index = 151646;
    m.llava.vision_feature_layers = {-1};
    m.llava.vision_feature_select_strategy = "full";
  } else {
    std::string names;
    for (const auto& n : model_preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw ConfigError(cat("unknown model preset '", name, "' (known: ", names, ")"));
  }
  m.validate("preset " + name);
  return m;
}

}  // namespace ril::model
