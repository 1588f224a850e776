#include "ril/model/qwen2_vl_image_processor.h"

#include <cmath>

#include <torch/torch.h>

#include "ril/common/error.h"
#include "ril/model/image_processor.h"

namespace ril::model {
namespace {

// Python's round(): to nearest, ties to even (nearbyint in the default rounding mode).
int64_t round_half_even(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

}  // namespace

std::pair<int64_t, int64_t> qwen2_vl_smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                                  int64_t max_pixels, const std::string& source) {
  RIL_CONFIG_CHECK(height >= factor && width >= factor, source, ": a ", height, "x", width,
                   " image is smaller than one merged patch (", factor, " px = patch_size * merge_size) on a side");
  const double ratio = static_cast<double>(std::max(height, width)) / static_cast<double>(std::min(height, width));
  RIL_CONFIG_CHECK(ratio <= 200.0, source, ": a ", height, "x", width, " image has aspect ratio ", ratio,
                   " (at most 200)");
  const auto f = static_cast<double>(factor);
  int64_t h = round_half_even(static_cast<double>(height) / f) * factor;
  int64_t w = round_half_even(static_cast<double>(width) / f) * factor;
  const double area = static_cast<double>(height) * static_cast<double>(width);
  if (h * w > max_pixels) {
    const double beta = std::sqrt(area / static_cast<double>(max_pixels));
    h = static_cast<int64_t>(std::floor(static_cast<double>(height) / beta / f)) * factor;
    w = static_cast<int64_t>(std::floor(static_cast<double>(width) / beta / f)) * factor;
  } else if (h * w < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / area);
    h = static_cast<int64_t>(std::ceil(static_cast<double>(height) * beta / f)) * factor;
    w = static_cast<int64_t>(std::ceil(static_cast<double>(width) * beta / f)) * factor;
  }
  RIL_CONFIG_CHECK(h >= factor && w >= factor, source, ": a ", height, "x", width,
                   " image leaves no merged patch on a side within max_pixels ", max_pixels);
  return {h, w};
}

int64_t qwen2_vl_num_image_tokens(const Qwen2_5_VLConfig& config, int64_t height, int64_t width) {
  const Qwen2_5_VisionConfig& v = config.vision_config;
  const int64_t factor = v.patch_size * v.spatial_merge_size;
  auto [h, w] = qwen2_vl_smart_resize(height, width, factor, config.image_processor.min_pixels,
                                      config.image_processor.max_pixels);
  return (h / factor) * (w / factor);
}

ImageInputs qwen2_vl_preprocess(const Qwen2_5_VLConfig& config, const RgbImage& image) {
  const Qwen2_5_VisionConfig& v = config.vision_config;
  const int64_t p = v.patch_size, m = v.spatial_merge_size, t = v.temporal_patch_size;
  auto [h, w] = qwen2_vl_smart_resize(image.height, image.width, p * m, config.image_processor.min_pixels,
                                      config.image_processor.max_pixels);
  torch::Tensor x = normalise_image(resize_bicubic(image, h, w), config.image_processor.image_mean,
                                    config.image_processor.image_std);  // [C, H, W]
  const int64_t c = x.size(0), gh = h / p, gw = w / p;
  // One frame, repeated to fill the temporal patch: [T, C, H, W].
  torch::Tensor frames = x.unsqueeze(0).expand({t, c, h, w});
  frames = frames.reshape({1, t, c, gh / m, m, p, gw / m, m, p});
  // -> (grid_t, block_row, block_col, row_in_block, col_in_block, C, T, y, x)
  frames = frames.permute({0, 3, 6, 4, 7, 2, 1, 5, 8});
  ImageInputs out;
  out.pixel_values = frames.reshape({gh * gw, c * t * p * p}).contiguous();
  out.image_grid_thw = torch::tensor({int64_t{1}, gh, gw}, torch::kInt64).view({1, 3});
  out.tokens = {gh * gw / (m * m)};
  return out;
}

}  // namespace ril::model
