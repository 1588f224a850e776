#include "ril/model/qwen2_config.h"

#include <nlohmann/json.hpp>

#include "config_json.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::model {
namespace {

using json = nlohmann::json;
using namespace config_json;

// One RoPE description (4.x rope_scaling or 5.x rope_parameters) into `c`.
void read_rope_object(const json& r, const char* key, const std::string& source, Qwen2Config& c) {
  RIL_CONFIG_CHECK(r.is_object(), source, ": key '", key, "' must be an object, got ", r.dump());
  const std::string src = cat(source, " (", key, ")");
  // 4.x wrote "type", later versions "rope_type" (sometimes both).
  std::string type = get_optional<std::string>(r, "type", "default", src);
  type = get_optional<std::string>(r, "rope_type", type, src);
  RIL_CONFIG_CHECK(type == "default" || type == "mrope" || type == "dynamic", source, ": key '", key,
                   "' = ", r.dump(), " is not supported (rope types: default, mrope, dynamic)");
  if (r.contains("rope_theta")) c.rope_theta = get_required<double>(r, "rope_theta", src);
  if (r.contains("mrope_section")) c.mrope_section = get_required<std::vector<int64_t>>(r, "mrope_section", src);
  RIL_CONFIG_CHECK(type != "mrope" || !c.mrope_section.empty(), source, ": key '", key,
                   "' has type mrope but no 'mrope_section'");
  if (type == "dynamic") {
    c.rope_type = "dynamic";
    c.rope_factor = get_required<double>(r, "factor", src);
  }
  for (const char* unsupported : {"mrope_interleaved", "partial_rotary_factor"}) {
    RIL_CONFIG_CHECK(!r.contains(unsupported) || r.at(unsupported).is_null() ||
                         r.at(unsupported) == json(false) || r.at(unsupported) == json(1.0),
                     source, ": key '", key, ".", unsupported, "' = ", r.at(unsupported).dump(),
                     " is not supported");
  }
}

void read_rope(const json& j, const std::string& source, Qwen2Config& c) {
  bool have_theta = false;
  if (j.contains("rope_parameters") && !j.at("rope_parameters").is_null()) {
    read_rope_object(j.at("rope_parameters"), "rope_parameters", source, c);
    have_theta = j.at("rope_parameters").contains("rope_theta");
  }
  if (j.contains("rope_scaling") && !j.at("rope_scaling").is_null()) {
    read_rope_object(j.at("rope_scaling"), "rope_scaling", source, c);
    have_theta = have_theta || j.at("rope_scaling").contains("rope_theta");
  }
  if (j.contains("rope_theta") && !j.at("rope_theta").is_null()) {
    c.rope_theta = get_required<double>(j, "rope_theta", source);
    have_theta = true;
  }
  RIL_CONFIG_CHECK(have_theta, source, ": missing required key 'rope_theta' (or 'rope_parameters.rope_theta')");
}

std::vector<int64_t> read_eos(const json& j, const std::string& source) {
  if (!j.contains("eos_token_id") || j.at("eos_token_id").is_null()) return {};
  if (j.at("eos_token_id").is_array()) return get_required<std::vector<int64_t>>(j, "eos_token_id", source);
  return {get_required<int64_t>(j, "eos_token_id", source)};
}

}  // namespace

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
  RIL_CONFIG_CHECK(rope_type == "default" || rope_type == "dynamic", source, ": rope type '", rope_type,
                   "' is not supported (supported: default, mrope, dynamic)");
  RIL_CONFIG_CHECK(rope_type != "dynamic" || rope_factor >= 1.0, source,
                   ": key 'rope_scaling.factor' must be >= 1, got ", rope_factor);
  if (!mrope_section.empty()) {
    int64_t sum = 0;
    for (int64_t s : mrope_section) sum += s;
    RIL_CONFIG_CHECK(mrope_section.size() == 3 && sum * 2 == resolved_head_dim(), source,
                     ": key 'mrope_section' = ", nlohmann::json(mrope_section).dump(),
                     " must have 3 entries summing to head_dim / 2 = ", resolved_head_dim() / 2);
    for (int64_t s : mrope_section) check_positive(s, "mrope_section", source);
  }
  RIL_CONFIG_CHECK(hidden_act == "silu", source, ": key 'hidden_act' = '", hidden_act,
                   "' is not supported (supported: silu)");
}

Qwen2Config parse_text_decoder_keys(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": text config must be a JSON object");
  Qwen2Config c;
  c.vocab_size = get_required<int64_t>(j, "vocab_size", source);
  c.hidden_size = get_required<int64_t>(j, "hidden_size", source);
  c.intermediate_size = get_required<int64_t>(j, "intermediate_size", source);
  c.num_hidden_layers = get_required<int64_t>(j, "num_hidden_layers", source);
  c.num_attention_heads = get_required<int64_t>(j, "num_attention_heads", source);
  c.num_key_value_heads = get_optional<int64_t>(j, "num_key_value_heads", c.num_attention_heads, source);
  c.head_dim = get_optional<int64_t>(j, "head_dim", 0, source);
  c.max_position_embeddings = get_optional<int64_t>(j, "max_position_embeddings", c.max_position_embeddings, source);
  c.rms_norm_eps = get_optional<double>(j, "rms_norm_eps", c.rms_norm_eps, source);
  c.tie_word_embeddings = get_optional<bool>(j, "tie_word_embeddings", false, source);
  c.hidden_act = get_optional<std::string>(j, "hidden_act", "silu", source);
  c.initializer_range = get_optional<double>(j, "initializer_range", 0.02, source);
  c.torch_dtype = get_optional<std::string>(j, "torch_dtype", "float32", source);
  if (j.contains("dtype") && j.at("dtype").is_string()) c.torch_dtype = j.at("dtype").get<std::string>();
  c.bos_token_id = get_optional<int64_t>(j, "bos_token_id", -1, source);
  c.eos_token_ids = read_eos(j, source);
  read_rope(j, source, c);
  const bool sliding = get_optional<bool>(j, "use_sliding_window", false, source);
  RIL_CONFIG_CHECK(!sliding, source, ": key 'use_sliding_window' = true is not supported");
  c.validate(source);
  return c;
}

Qwen2Config parse_qwen2_config(const json& j, const std::string& source) {
  RIL_CONFIG_CHECK(j.is_object(), source, ": Qwen2 config must be a JSON object");
  const auto model_type = get_optional<std::string>(j, "model_type", "qwen2", source);
  RIL_CONFIG_CHECK(model_type == "qwen2", source, ": key 'model_type' = '", model_type,
                   "' is not supported for the text model (supported: qwen2)");
  check_architectures(j, {"Qwen2ForCausalLM", "Qwen2ForSequenceClassification", "Qwen2Model"}, source);
  Qwen2Config c = parse_text_decoder_keys(j, source);
  RIL_CONFIG_CHECK(c.mrope_section.empty(), source,
                   ": key 'mrope_section' is only supported in qwen2_5_vl configs");
  return c;
}

Qwen2Config parse_nested_qwen2_config(const json& root, const std::string& source, bool require_model_type) {
  RIL_CONFIG_CHECK(root.contains("text_config"), source, ": missing required key 'text_config'");
  json text = root.at("text_config");
  RIL_CONFIG_CHECK(text.is_object(), source, ": key 'text_config' must be an object");
  RIL_CONFIG_CHECK(!require_model_type || text.contains("model_type"), source,
                   ": missing required key 'text_config.model_type'");
  fill_defaults(text, {{"model_type", "qwen2"}, {"vocab_size", 151936}, {"hidden_size", 4096},
                       {"intermediate_size", 22016}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                       {"num_key_value_heads", 32}, {"max_position_embeddings", 32768}, {"rms_norm_eps", 1e-6},
                       {"hidden_act", "silu"}, {"tie_word_embeddings", false}});
  if (!text.contains("rope_theta") && !text.contains("rope_parameters") &&
      !(text.contains("rope_scaling") && text.at("rope_scaling").contains("rope_theta"))) {
    text["rope_theta"] = 10000.0;  // Qwen2Config default
  }
  if (root.contains("tie_word_embeddings") && root.at("tie_word_embeddings").is_boolean() &&
      root.at("tie_word_embeddings") != text.at("tie_word_embeddings")) {
    log_warn("model", source, ": top-level tie_word_embeddings (", root.at("tie_word_embeddings").dump(),
             ") differs from text_config's (", text.at("tie_word_embeddings").dump(),
             "); using text_config's, as HF does");
  }
  return parse_qwen2_config(text, source + " (text_config)");
}

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
  j["rope_parameters"] = {{"rope_theta", c.rope_theta}, {"rope_type", c.rope_type}};
  if (c.rope_type == "dynamic") {
    j["rope_parameters"]["factor"] = c.rope_factor;
    j["rope_scaling"] = {{"type", "dynamic"}, {"rope_type", "dynamic"}, {"factor", c.rope_factor}};
  }
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

}  // namespace ril::model
