// HF Qwen2Config: the text decoder of every family here (Qwen2, the LLaVA and InternVL text models,
// and Qwen2.5-VL's, which adds M-RoPE), with its config.json read/write.
//
// RoPE keys read: 4.x top-level `rope_theta` + `rope_scaling` {type|rope_type, factor,
// mrope_section}; 5.x `rope_parameters` {rope_type, rope_theta, factor, mrope_section}. Supported
// types: "default", "mrope" (= default with mrope_section), "dynamic" (see below). Errors name the
// file and the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ril::model {

// HF Qwen2Config (model_type "qwen2"). Defaults: the "tiny" preset.
struct Qwen2Config {
  int64_t vocab_size = 1024;
  int64_t hidden_size = 128;
  int64_t intermediate_size = 352;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads (HF 4.x has no key)
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  // "default", or "dynamic" (dynamic NTK, as InternVL3's text configs ask: identical to "default"
  // while every position is below max_position_embeddings; ril refuses longer sequences rather
  // than rescale, see Qwen2ModelImpl::forward).
  std::string rope_type = "default";
  double rope_factor = 1.0;  // "dynamic" only
  // M-RoPE (Qwen2.5-VL): rotary frequencies given to the (temporal, height, width) position axes,
  // summing to head_dim / 2; empty: 1-D RoPE. With three equal axes (text) M-RoPE is 1-D RoPE.
  std::vector<int64_t> mrope_section;
  bool tie_word_embeddings = true;
  std::string hidden_act = "silu";
  double initializer_range = 0.02;
  int64_t bos_token_id = -1;               // -1: none
  std::vector<int64_t> eos_token_ids;      // HF `eos_token_id`: int or list
  std::string torch_dtype = "float32";     // informational; weights load into the module's dtype

  int64_t resolved_head_dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  // Throws ConfigError naming `source` and the offending key.
  void validate(const std::string& source) const;
};

// A text-only Qwen2 config.json (model_type "qwen2"; no mrope_section). `source` is in every error.
Qwen2Config parse_qwen2_config(const nlohmann::json& j, const std::string& source);
// The decoder keys of any config object (the model_type is the caller's business): shapes,
// norms, RoPE (mrope_section allowed), tying, token ids.
Qwen2Config parse_text_decoder_keys(const nlohmann::json& j, const std::string& source);
// The `text_config` object of a composite config `root` (LLaVA, InternVL). HF rebuilds it as
// Qwen2Config(**text_config) and writes it as a diff against the class defaults, so absent keys
// take Qwen2Config's defaults here too. Tying follows text_config (class default false); a
// differing top-level tie_word_embeddings is logged and ignored. Without `require_model_type`
// an absent text_config.model_type means "qwen2" (as InternVLConfig does).
Qwen2Config parse_nested_qwen2_config(const nlohmann::json& root, const std::string& source,
                                      bool require_model_type);
// 4.x layout plus `rope_parameters` (5.x readers), with `architectures` and `model_type` "qwen2".
// M-RoPE configs are written by qwen2_5_vl_config_to_json.
nlohmann::json qwen2_config_to_json(const Qwen2Config& config);

}  // namespace ril::model
