#include "ril/model/model_size.h"

#include <cstdio>
#include <sstream>

#include "ril/common/error.h"
#include "ril/model/image_processor.h"
#include "ril/model/internvl_image_processor.h"
#include "ril/model/qwen2_vl_image_processor.h"

namespace ril::model {
namespace {

int64_t linear(int64_t in, int64_t out, bool bias) { return in * out + (bias ? out : 0); }

// Matmul parameters of one decoder layer (norms excluded).
int64_t text_layer_matmul(const Qwen2Config& t) {
  const int64_t d = t.hidden_size, q = t.num_attention_heads * t.resolved_head_dim(),
                kv = t.num_key_value_heads * t.resolved_head_dim();
  return d * q + 2 * d * kv + q * d + 3 * d * t.intermediate_size;
}

void add_text(const Qwen2Config& t, ModelSize& s) {
  const int64_t d = t.hidden_size, q = t.num_attention_heads * t.resolved_head_dim(),
                kv = t.num_key_value_heads * t.resolved_head_dim();
  const int64_t per_layer = text_layer_matmul(t) + q + 2 * kv /* q/k/v biases */ + 2 * d /* norms */;
  s.components.push_back({"text embeddings", t.vocab_size * d});
  s.components.push_back({"text decoder", t.num_hidden_layers * per_layer + d});
  if (!t.tie_word_embeddings) s.components.push_back({"lm head", t.vocab_size * d});
}

void add_siglip(const LlavaConfig& c, ModelSize& s) {
  const SiglipVisionConfig& v = c.vision_config;
  const int64_t d = v.hidden_size, i = v.intermediate_size;
  const int64_t layer = 4 * d + 4 * linear(d, d, true) + linear(d, i, true) + linear(i, d, true);
  s.components.push_back({"vision tower", linear(v.num_channels * v.patch_size * v.patch_size, d, true) +
                                              v.num_patches() * d + v.num_hidden_layers * layer + 2 * d});
  const int64_t in = d * static_cast<int64_t>(c.vision_feature_layers.size()), out = c.text_config.hidden_size;
  s.components.push_back({"projector", linear(in, out, c.multimodal_projector_bias) +
                                           linear(out, out, c.multimodal_projector_bias)});
}

void add_qwen_vision(const Qwen2_5_VLConfig& c, ModelSize& s) {
  const Qwen2_5_VisionConfig& v = c.vision_config;
  const int64_t d = v.hidden_size, i = v.intermediate_size, m = d * v.spatial_merge_size * v.spatial_merge_size;
  const int64_t block = 2 * d + linear(d, 3 * d, true) + linear(d, d, true) + 2 * linear(d, i, true) + linear(i, d, true);
  s.components.push_back({"vision tower", v.patch_dim() * d + v.depth * block});
  s.components.push_back({"projector", d + linear(m, m, true) + linear(m, v.out_hidden_size, true)});
}

void add_internvit(const InternVLConfig& c, ModelSize& s) {
  const InternVLVisionConfig& v = c.vision_config;
  const int64_t d = v.hidden_size, i = v.intermediate_size, n = v.grid() * v.grid();
  const int64_t norm = v.norm_type == "rms_norm" ? d : 2 * d;
  const int64_t layer = 2 * norm + 3 * linear(d, d, v.attention_bias) + linear(d, d, true) +
                        (v.use_qk_norm ? 2 * d : 0) + 2 * d /* layer scale */ + linear(d, i, true) + linear(i, d, true);
  const int64_t tower = d /* cls */ + (v.use_absolute_position_embeddings ? (n + 1) * d : 0) +
                        linear(v.num_channels * v.patch_size * v.patch_size, d, true) + v.num_hidden_layers * layer +
                        (v.use_mean_pooling ? 0 : 2 * d);
  s.components.push_back({"vision tower", tower});
  const int64_t in = 4 * d, out = c.text_config.hidden_size;
  s.components.push_back({"projector", 2 * in + linear(in, out, true) + linear(out, out, true)});
}

// Encoder FLOPs of `tokens` tokens through `layers` layers of width d, MLP width i, each token
// attending `span` tokens; `mlp_mats` = 2 (GELU MLP) or 3 (SwiGLU).
double encoder_flops(int64_t layers, int64_t tokens, int64_t span, int64_t d, int64_t i, int64_t mlp_mats) {
  const double per_token = 2.0 * (4.0 * d * d + static_cast<double>(mlp_mats) * d * i) + 4.0 * span * d;
  return static_cast<double>(layers) * per_token * static_cast<double>(tokens);
}

std::string human(double v, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int k = 0;
  while (v >= 1000.0 && k < 5) {
    v /= 1000.0;
    ++k;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3g %s%s", v, prefixes[k], unit);
  return buf;
}

}  // namespace

int64_t ModelSize::total_params() const {
  int64_t n = 0;
  for (const auto& c : components) n += c.params;
  return n;
}

int64_t ModelSize::params_of(const std::string& name) const {
  for (const auto& c : components) {
    if (c.name == name) return c.params;
  }
  return 0;
}

ModelSize model_size(const ModelConfig& config) {
  ModelSize s;
  add_text(config.text(), s);
  switch (config.kind) {
    case ModelKind::kLlava: add_siglip(config.llava, s); break;
    case ModelKind::kQwen2_5_VL: add_qwen_vision(config.qwen2_5_vl, s); break;
    case ModelKind::kInternVL: add_internvit(config.internvl, s); break;
    default: break;
  }
  return s;
}

int64_t dtype_bytes(const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "bfloat16" || dtype == "float16") return 2;
  throw ConfigError(cat("unknown dtype '", dtype, "' (float32, bfloat16, float16)"));
}

int64_t weight_bytes(const ModelSize& size, const std::string& dtype) { return size.total_params() * dtype_bytes(dtype); }

int64_t training_bytes(const ModelSize& size, const std::string& dtype) {
  const int64_t b = dtype_bytes(dtype);
  const int64_t master = b == 4 ? 0 : 4;
  return size.total_params() * (2 * b + 8 + master);  // weights + grads + AdamW m, v (+ fp32 master)
}

int64_t kv_cache_bytes_per_token(const Qwen2Config& t, const std::string& dtype) {
  return 2 * t.num_hidden_layers * t.num_key_value_heads * t.resolved_head_dim() * dtype_bytes(dtype);
}

double text_flops_per_token(const ModelConfig& config, int64_t context) {
  const Qwen2Config& t = config.text();
  const double matmul = static_cast<double>(t.num_hidden_layers) * static_cast<double>(text_layer_matmul(t)) +
                        static_cast<double>(t.vocab_size) * static_cast<double>(t.hidden_size);
  const double attention = 4.0 * t.num_hidden_layers * static_cast<double>(context) * t.num_attention_heads *
                           t.resolved_head_dim();
  return 2.0 * matmul + attention;
}

double vision_flops_per_image(const ModelConfig& config, int64_t height, int64_t width) {
  switch (config.kind) {
    case ModelKind::kLlava: {
      const SiglipVisionConfig& v = config.llava.vision_config;
      const int64_t n = v.num_patches(), d = v.hidden_size, out = config.llava.text_config.hidden_size;
      return encoder_flops(v.num_hidden_layers, n, n, d, v.intermediate_size, 2) +
             2.0 * n * (v.num_channels * v.patch_size * v.patch_size * d + d * out + out * out);
    }
    case ModelKind::kQwen2_5_VL: {
      const Qwen2_5_VLConfig& c = config.qwen2_5_vl;
      const Qwen2_5_VisionConfig& v = c.vision_config;
      const int64_t f = v.patch_size * v.spatial_merge_size;
      auto [h, w] = qwen2_vl_smart_resize(height, width, f, c.image_processor.min_pixels, c.image_processor.max_pixels);
      const int64_t l = (h / v.patch_size) * (w / v.patch_size), d = v.hidden_size, m = 4 * d;
      const int64_t window = std::min<int64_t>(l, v.merged_window() * v.merged_window() * 4);
      const auto full = static_cast<int64_t>(v.fullatt_block_indexes.size());
      return encoder_flops(full, l, l, d, v.intermediate_size, 3) +
             encoder_flops(v.depth - full, l, window, d, v.intermediate_size, 3) + 2.0 * l * v.patch_dim() * d +
             2.0 * (l / 4) * (m * m + m * v.out_hidden_size);
    }
    case ModelKind::kInternVL: {
      const InternVLConfig& c = config.internvl;
      const InternVLVisionConfig& v = c.vision_config;
      const int64_t tiles = internvl_num_tiles(c, height, width), n = v.grid() * v.grid() + 1, d = v.hidden_size;
      const int64_t in = 4 * d, out = c.text_config.hidden_size;
      return static_cast<double>(tiles) *
             (encoder_flops(v.num_hidden_layers, n, n, d, v.intermediate_size, 2) +
              2.0 * (n - 1) * v.num_channels * v.patch_size * v.patch_size * d +
              2.0 * c.tokens_per_tile() * (in * out + out * out));
    }
    default: return 0.0;
  }
}

std::string describe_model_size(const ModelConfig& config, const std::string& name, int64_t image_height,
                                int64_t image_width, int64_t context) {
  const ModelSize s = model_size(config);
  std::ostringstream out;
  out << name << " (" << model_kind_name(config.kind) << ")\n";
  for (const auto& c : s.components) out << "  " << c.name << ": " << human(static_cast<double>(c.params), "") << "\n";
  out << "  total parameters: " << s.total_params() << " (" << human(static_cast<double>(s.total_params()), "") << ")\n";
  for (const char* dtype : {"float32", "bfloat16"}) {
    out << "  " << dtype << ": weights " << human(static_cast<double>(weight_bytes(s, dtype)), "B") << ", training (AdamW) "
        << human(static_cast<double>(training_bytes(s, dtype)), "B") << ", KV cache per token "
        << human(static_cast<double>(kv_cache_bytes_per_token(config.text(), dtype)), "B") << "\n";
  }
  out << "  forward FLOPs per text token at context " << context << ": "
      << human(text_flops_per_token(config, context), "FLOP") << "\n";
  if (config.has_vision()) {
    out << "  image " << image_height << "x" << image_width << ": "
        << num_image_tokens(config, image_height, image_width) << " image tokens, vision forward "
        << human(vision_flops_per_image(config, image_height, image_width), "FLOP") << "\n";
  }
  return out.str();
}

}  // namespace ril::model
