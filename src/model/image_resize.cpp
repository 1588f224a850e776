#include "ril/model/image_resize.h"

#include <cmath>

#include "ril/common/error.h"

namespace ril::model {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Per output pixel: the first input index and the fixed-point weights of its window.
struct Coefficients {
  std::vector<int64_t> first;
  std::vector<std::vector<int32_t>> weights;
};

Coefficients precompute(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;  // bicubic support 2, stretched when shrinking
  Coefficients c;
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    // C-style truncation toward zero, then clamped (Pillow's "round the value").
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    std::vector<double> k(static_cast<size_t>(xmax));
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[x] = bicubic_filter((static_cast<double>(x + xmin) - center + 0.5) / filterscale);
      ww += k[x];
    }
    std::vector<int32_t> fixed(static_cast<size_t>(xmax));
    for (int64_t x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      const double scaled = w * static_cast<double>(1 << kPrecisionBits);
      fixed[x] = static_cast<int32_t>(w < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    c.first.push_back(xmin);
    c.weights.push_back(std::move(fixed));
  }
  return c;
}

uint8_t clip8(int64_t v) {
  if (v <= 0) return 0;
  const int64_t shifted = v >> kPrecisionBits;
  return shifted > 255 ? 255 : static_cast<uint8_t>(shifted);
}

// One pass along an axis of an H x W x 3 image: `horizontal` resamples columns.
RgbImage resample_pass(const RgbImage& in, int64_t out_size, bool horizontal) {
  const int64_t in_size = horizontal ? in.width : in.height;
  const Coefficients c = precompute(in_size, out_size);
  RgbImage out;
  out.height = horizontal ? in.height : out_size;
  out.width = horizontal ? out_size : in.width;
  out.pixels.resize(static_cast<size_t>(out.height * out.width * 3));
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      const int64_t o = horizontal ? x : y;
      const std::vector<int32_t>& k = c.weights[o];
      for (int64_t ch = 0; ch < 3; ++ch) {
        int64_t ss = int64_t{1} << (kPrecisionBits - 1);
        for (size_t i = 0; i < k.size(); ++i) {
          const int64_t src = c.first[o] + static_cast<int64_t>(i);
          const int64_t sy = horizontal ? y : src, sx = horizontal ? src : x;
          ss += static_cast<int64_t>(in.pixels[(sy * in.width + sx) * 3 + ch]) * k[i];
        }
        out.pixels[(y * out.width + x) * 3 + ch] = clip8(ss);
      }
    }
  }
  return out;
}

}  // namespace

RgbImage resize_bicubic(const RgbImage& image, int64_t height, int64_t width) {
  RIL_CHECK(image.height >= 1 && image.width >= 1 &&
                static_cast<int64_t>(image.pixels.size()) == image.height * image.width * 3,
            "resize_bicubic: image must be H x W x 3 bytes with H, W >= 1, got ", image.height, "x", image.width,
            " and ", image.pixels.size(), " bytes");
  RIL_CHECK(height >= 1 && width >= 1, "resize_bicubic: target size ", height, "x", width, " must be >= 1");
  RgbImage out = image;
  if (width != image.width) out = resample_pass(out, width, /*horizontal=*/true);
  if (height != image.height) out = resample_pass(out, height, /*horizontal=*/false);
  return out;
}

RgbImage crop(const RgbImage& image, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  RIL_CHECK(y0 >= 0 && x0 >= 0 && h >= 1 && w >= 1 && y0 + h <= image.height && x0 + w <= image.width,
            "crop: box (", y0, ", ", x0, ") + ", h, "x", w, " is outside the ", image.height, "x", image.width, " image");
  RgbImage out;
  out.height = h;
  out.width = w;
  out.pixels.resize(static_cast<size_t>(h * w * 3));
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* src = image.pixels.data() + ((y0 + y) * image.width + x0) * 3;
    std::copy(src, src + w * 3, out.pixels.data() + y * w * 3);
  }
  return out;
}

}  // namespace ril::model
