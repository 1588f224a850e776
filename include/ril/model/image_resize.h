// Bicubic image resizing as Pillow's Image.resize(size, BICUBIC) computes it for 8-bit images,
// which is what the Hugging Face image processors (Qwen2VLImageProcessor, GotOcr2ImageProcessor,
// SiglipImageProcessor) call. Antialiased: the cubic kernel (a = -0.5, support 2) is stretched by
// the downscale factor; separable, horizontal pass first, each pass rounding to uint8 with 22-bit
// fixed-point coefficients (Pillow's PRECISION_BITS). Integer arithmetic: bit-exact everywhere.
// (The torchvision-backed "fast" processors agree with this to +-1 on some pixels.)
#pragma once

#include <cstdint>
#include <vector>

namespace ril::model {

struct RgbImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // H x W x 3, row-major (the dataset layout)
};

// `image` resized to height x width (both >= 1). Same size: a copy.
RgbImage resize_bicubic(const RgbImage& image, int64_t height, int64_t width);

// Rows [y0, y0 + h) and columns [x0, x0 + w) of `image` (must lie inside it).
RgbImage crop(const RgbImage& image, int64_t y0, int64_t x0, int64_t h, int64_t w);

}  // namespace ril::model
