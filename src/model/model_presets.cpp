// Named model presets (declared in model_config.h). The real shapes are those of the released
// checkpoints' config.json files:
//   Qwen2-0.5B / 1.5B; LLaVA-OneVision-shaped SigLIP-so400m/14@384 + Qwen2-0.5B;
//   Qwen/Qwen2.5-VL-3B-Instruct, -7B-Instruct: vision depth 32, hidden 1280, MLP 3420, 16 heads,
//     silu, full attention at blocks 7/15/23/31, window 112 px; text 2048 x 36 layers (16/2 heads,
//     MLP 11008, vocab 151936, tied) and 3584 x 28 (28/4 heads, MLP 18944, vocab 152064, untied);
//     M-RoPE [16, 24, 24], rope_theta 1e6; image processor min/max pixels 3136 / 12845056;
//   OpenGVLab/InternVL3-1B, -2B, -8B (-hf): InternViT-300M-448px-V2_5 (1024 x 24 layers, 16 heads,
//     MLP 4096, qkv bias, LayerNorm, no q/k norm, layer scale), pixel shuffle 0.5, 256 tokens a
//     tile; Qwen2.5-0.5B / 1.5B / 7B text models with vocab 151674 and untied heads. The
//     dynamic-NTK rope_scaling (factor 2) is the one InternVL3-1B's llm_config carries.
#include <filesystem>
#include <functional>
#include <map>

#include "ril/common/error.h"
#include "ril/model/model_config.h"

namespace ril::model {
namespace {

Qwen2Config tiny_qwen2() {
  Qwen2Config c;  // struct defaults are the tiny preset: d=128, 4 layers, 4/2 heads, vocab 1024
  return c;
}

Qwen2Config qwen2_text(int64_t vocab, int64_t hidden, int64_t mlp, int64_t layers, int64_t heads, int64_t kv) {
  Qwen2Config c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = mlp;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv;
  c.max_position_embeddings = 32768;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 1000000.0;
  c.tie_word_embeddings = true;
  c.bos_token_id = 151643;
  c.eos_token_ids = {151643};
  c.torch_dtype = "bfloat16";
  return c;
}

Qwen2Config qwen2_0_5b() { return qwen2_text(151936, 896, 4864, 24, 14, 2); }

ModelConfig text_model(Qwen2Config c) {
  ModelConfig m;
  m.kind = ModelKind::kQwen2;
  m.qwen2 = std::move(c);
  return m;
}

ModelConfig tiny_llava(int64_t hidden, int64_t mlp, int64_t layers, int64_t heads) {
  ModelConfig m;
  m.kind = ModelKind::kLlava;
  m.llava.text_config = tiny_qwen2();
  Qwen2Config& t = m.llava.text_config;
  t.hidden_size = hidden;
  t.intermediate_size = mlp;
  t.num_hidden_layers = layers;
  t.num_attention_heads = heads;
  m.llava.vision_config = SiglipVisionConfig{};  // 64x64, patch 8, hidden 64, 2 layers
  m.llava.image_token_index = t.vocab_size - 1;
  m.llava.vision_feature_layers = {-1};
  m.llava.vision_feature_select_strategy = "full";
  return m;
}

// Models for 48-px synth boards, one patch per cell so that each object is one image token:
// 16-px patches (9 tokens) for `ril-data synth --image-size 48 --grid 3`, 24-px patches (4 tokens)
// for `--grid 2` (the CPU default job: the fewest image tokens a board can have).
ModelConfig tiny_llava_48(int64_t hidden, int64_t mlp, int64_t layers, int64_t heads, int64_t patch = 16) {
  ModelConfig m = tiny_llava(hidden, mlp, layers, heads);
  m.llava.vision_config.image_size = 48;
  m.llava.vision_config.patch_size = patch;
  return m;
}

ModelConfig llava_qwen2_0_5b_siglip() {
  ModelConfig m;
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
  return m;
}

// Tiny Qwen2.5-VL for CPU tests: 8-px patches so that a 64x64 image keeps 8x8 patches (16 image
// tokens after the 2x2 merge) and 2x2-merged-unit windows (4 windows, one full-attention layer).
ModelConfig tiny_qwen2_5_vl() {
  ModelConfig m;
  m.kind = ModelKind::kQwen2_5_VL;
  Qwen2_5_VLConfig& c = m.qwen2_5_vl;
  c.text_config = tiny_qwen2();         // head dim 32
  c.text_config.mrope_section = {4, 6, 6};  // the released [16, 24, 24] scaled to head dim 32
  c.vision_config = Qwen2_5_VisionConfig{};
  c.vision_config.patch_size = 8;
  c.vision_config.window_size = 32;
  c.vision_config.out_hidden_size = c.text_config.hidden_size;
  c.image_token_id = c.text_config.vocab_size - 1;
  c.image_processor.min_pixels = 32 * 32;
  c.image_processor.max_pixels = 128 * 128;
  return m;
}

ModelConfig qwen2_5_vl_real(Qwen2Config text) {
  ModelConfig m;
  m.kind = ModelKind::kQwen2_5_VL;
  Qwen2_5_VLConfig& c = m.qwen2_5_vl;
  text.max_position_embeddings = 128000;
  text.eos_token_ids = {151645};
  text.mrope_section = {16, 24, 24};
  c.text_config = text;
  Qwen2_5_VisionConfig& v = c.vision_config;
  v.depth = 32;
  v.hidden_size = 1280;
  v.intermediate_size = 3420;
  v.num_heads = 16;
  v.patch_size = 14;
  v.window_size = 112;
  v.fullatt_block_indexes = {7, 15, 23, 31};
  v.out_hidden_size = text.hidden_size;
  c.image_token_id = 151655;
  c.video_token_id = 151656;
  c.vision_start_token_id = 151652;
  c.vision_end_token_id = 151653;
  c.image_processor.min_pixels = 3136;
  c.image_processor.max_pixels = 12845056;
  return m;
}

// Tiny InternVL3 for CPU tests: 64-px tiles of 8-px patches (16 tokens a tile), at most 4 tiles.
ModelConfig tiny_internvl3() {
  ModelConfig m;
  m.kind = ModelKind::kInternVL;
  InternVLConfig& c = m.internvl;
  c.text_config = tiny_qwen2();
  c.text_config.tie_word_embeddings = false;  // as the released InternVL3 models
  c.text_config.rope_type = "dynamic";
  c.text_config.rope_factor = 2.0;
  c.vision_config = InternVLVisionConfig{};
  c.image_token_id = c.text_config.vocab_size - 1;
  c.image_seq_length = c.tokens_per_tile();
  c.image_processor.max_patches = 4;
  return m;
}

ModelConfig internvl3_real(Qwen2Config text) {
  ModelConfig m;
  m.kind = ModelKind::kInternVL;
  InternVLConfig& c = m.internvl;
  text.tie_word_embeddings = false;
  text.rope_type = "dynamic";
  text.rope_factor = 2.0;
  text.eos_token_ids = {151645};
  c.text_config = text;
  InternVLVisionConfig& v = c.vision_config;
  v.hidden_size = 1024;
  v.num_hidden_layers = 24;
  v.num_attention_heads = 16;
  v.intermediate_size = 4096;
  v.image_size = 448;
  v.patch_size = 14;
  c.image_token_id = 151667;
  c.image_seq_length = 256;
  return m;
}

const std::map<std::string, std::function<ModelConfig()>>& presets() {
  static const std::map<std::string, std::function<ModelConfig()>> table = {
      {"tiny", [] { return text_model(tiny_qwen2()); }},
      {"tiny-teacher-small",
       [] {
         Qwen2Config c = tiny_qwen2();
         c.hidden_size = 256;
         c.intermediate_size = 704;
         c.num_hidden_layers = 6;
         c.num_attention_heads = 8;
         return text_model(c);
       }},
      {"tiny-llava", [] { return tiny_llava(128, 352, 4, 4); }},
      // a bigger teacher of the same family (~4x the text decoder)
      {"tiny-llava-large", [] { return tiny_llava(256, 704, 6, 8); }},
      {"tiny-llava-48", [] { return tiny_llava_48(128, 352, 4, 4); }},
      {"tiny-llava-48-large", [] { return tiny_llava_48(256, 704, 6, 8); }},
      {"tiny-llava-48-p24", [] { return tiny_llava_48(128, 352, 4, 4, 24); }},
      {"tiny-llava-48-p24-large", [] { return tiny_llava_48(256, 704, 6, 8, 24); }},
      {"tiny-qwen2.5-vl", tiny_qwen2_5_vl},
      {"tiny-internvl3", tiny_internvl3},
      {"qwen2-0.5b", [] { return text_model(qwen2_0_5b()); }},
      {"qwen2-1.5b", [] { return text_model(qwen2_text(151936, 1536, 8960, 28, 12, 2)); }},
      {"llava-qwen2-0.5b-siglip", llava_qwen2_0_5b_siglip},
      {"qwen2.5-vl-3b", [] { return qwen2_5_vl_real(qwen2_text(151936, 2048, 11008, 36, 16, 2)); }},
      {"qwen2.5-vl-7b",
       [] {
         Qwen2Config t = qwen2_text(152064, 3584, 18944, 28, 28, 4);
         t.tie_word_embeddings = false;
         return qwen2_5_vl_real(t);
       }},
      {"internvl3-1b", [] { return internvl3_real(qwen2_text(151674, 896, 4864, 24, 14, 2)); }},
      {"internvl3-2b", [] { return internvl3_real(qwen2_text(151674, 1536, 8960, 28, 12, 2)); }},
      {"internvl3-8b", [] { return internvl3_real(qwen2_text(151674, 3584, 18944, 28, 28, 4)); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> model_preset_names() {
  return {"tiny",          "tiny-teacher-small",      "tiny-llava",      "tiny-llava-large",
          "tiny-llava-48", "tiny-llava-48-large",     "tiny-llava-48-p24", "tiny-llava-48-p24-large",
          "tiny-qwen2.5-vl", "tiny-internvl3",        "qwen2-0.5b",      "qwen2-1.5b",
          "llava-qwen2-0.5b-siglip", "qwen2.5-vl-3b", "qwen2.5-vl-7b",   "internvl3-1b",
          "internvl3-2b",  "internvl3-8b"};
}

ModelConfig model_preset(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end()) {
    std::string names;
    for (const auto& n : model_preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw ConfigError(cat("unknown model preset '", name, "' (known: ", names, ")"));
  }
  ModelConfig m = it->second();
  m.validate("preset " + name);
  return m;
}

ModelConfig model_preset_or_config(const std::string& name_or_path) {
  if (std::filesystem::exists(name_or_path)) return load_model_config(name_or_path);
  return model_preset(name_or_path);
}

}  // namespace ril::model
