// Sizes of a model from its config alone (no weights are built, so real shapes such as
// Qwen2.5-VL-7B can be sized on any machine): parameters per component, bytes per dtype, the
// memory a training rank or a KV cache needs, and forward FLOPs per token and per image. For
// `ril info --model PRESET_OR_DIR` (the CLI hookup lives with the jobs).
//
// Formulas (forward, multiply-adds counted as 2 FLOPs):
//   text, per token at context c: 2 * (decoder matmul params + lm head) + 4 * layers * c * H * Dh
//     (scores q.k and the weighted sum over c keys);
//   vision, per image: 2 * (tower matmul params) * patches + attention 4 * layers * patches * S * D
//     with S the patches attended (whole image, or the window for windowed blocks), + projector.
//   training memory per rank (no sharding): weights and gradients in the parameter dtype, AdamW's
//     two moments in float32, plus a float32 master copy when the dtype is not float32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ril/model/model_config.h"

namespace ril::model {

struct ComponentSize {
  std::string name;  // "text embeddings", "text decoder", "lm head", "vision tower", "projector"
  int64_t params = 0;
};

struct ModelSize {
  std::vector<ComponentSize> components;
  int64_t total_params() const;
  int64_t params_of(const std::string& name) const;  // 0 when absent
};

// Parameters of every component (tied heads count once, under "text embeddings").
ModelSize model_size(const ModelConfig& config);

// Bytes per element of "float32", "bfloat16", "float16" (ConfigError otherwise).
int64_t dtype_bytes(const std::string& dtype);
int64_t weight_bytes(const ModelSize& size, const std::string& dtype);
int64_t training_bytes(const ModelSize& size, const std::string& dtype);
// Keys and values of every layer for one token.
int64_t kv_cache_bytes_per_token(const Qwen2Config& text, const std::string& dtype);

double text_flops_per_token(const ModelConfig& config, int64_t context);
// An image of height x width as the family's processor prepares it (0 for a text-only model).
double vision_flops_per_image(const ModelConfig& config, int64_t height, int64_t width);

// The report `ril info --model` prints: one line per component, totals, bytes, FLOPs for an image
// of image_height x image_width and a context of `context` tokens.
std::string describe_model_size(const ModelConfig& config, const std::string& name, int64_t image_height = 448,
                                int64_t image_width = 448, int64_t context = 1024);

}  // namespace ril::model
