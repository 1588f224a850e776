// The image side of every vision-language family behind one call, so that the jobs need not know
// the family: an RGB image (uint8 H x W x 3, the dataset layout) -> ImageInputs, and the number of
// placeholder tokens it takes in a prompt (fixed for LLaVA, size-dependent for Qwen2.5-VL and
// InternVL), and how the chat template writes an image.
//   LLaVA (SigLIP): bicubic resize to image_size x image_size (when the size differs), then
//                   (x / 255 - 0.5) / 0.5 in float32, as SiglipImageProcessor.
//   Qwen2.5-VL:     qwen2_vl_image_processor.h.   InternVL: internvl_image_processor.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "ril/model/image_inputs.h"
#include "ril/model/image_resize.h"
#include "ril/model/model_config.h"

namespace ril::model {

// uint8 [H, W, 3] (any device) -> RgbImage. Throws for another shape or dtype.
RgbImage rgb_image(const torch::Tensor& hwc_uint8);
RgbImage rgb_image(int64_t height, int64_t width, std::vector<uint8_t> pixels);

// The images, preprocessed for `config`'s family and concatenated in order (CPU, float32).
// Throws ConfigError for a text-only config or an image the family cannot take (too small...).
ImageInputs preprocess_images(const ModelConfig& config, const std::vector<RgbImage>& images);
// Placeholder tokens an image of this size takes in the prompt.
int64_t num_image_tokens(const ModelConfig& config, int64_t height, int64_t width);

ImageInputs siglip_preprocess(const LlavaConfig& config, const RgbImage& image);

// uint8 H x W x 3 -> float32 [3, H, W] = (x / 255 - mean) / std (computed in float64).
torch::Tensor normalise_image(const RgbImage& image, const std::array<double, 3>& mean, const std::array<double, 3>& stdev);

// An image in a chat prompt: start + N x token + end (N = num_image_tokens). Ids: the model's
// image_token_id for `token`; start / end are the tokenizer's (HF's templates write them).
struct ImagePromptFormat {
  std::string start;  // "<|vision_start|>" (Qwen2.5-VL), "<img>" (InternVL), "" (LLaVA)
  std::string token;  // "<|image_pad|>", "<IMG_CONTEXT>", "<image>"
  std::string end;    // "<|vision_end|>", "</img>\n" (InternVL's template follows the image by a
                      // newline), ""
};
ImagePromptFormat image_prompt_format(const ModelConfig& config);

}  // namespace ril::model
