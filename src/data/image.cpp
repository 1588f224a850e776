#include "ril/data/image.h"

#include <algorithm>

#include "ril/common/error.h"

namespace ril::data {

Image::Image(int height, int width, Rgb fill) : height_(height), width_(width) {
  RIL_CHECK(height > 0 && width > 0, "image size must be positive, got ", height, "x", width);
  pixels_.resize(static_cast<size_t>(height) * width * 3);
  for (size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = fill.r;
    pixels_[i + 1] = fill.g;
    pixels_[i + 2] = fill.b;
  }
}

Image::Image(int height, int width, std::vector<uint8_t> bytes)
    : height_(height), width_(width), pixels_(std::move(bytes)) {
  RIL_CHECK(height > 0 && width > 0, "image size must be positive, got ", height, "x", width);
  RIL_CHECK(pixels_.size() == static_cast<size_t>(height) * width * 3, "image of ", height, "x",
            width, "x3 needs ", static_cast<size_t>(height) * width * 3, " bytes, got ",
            pixels_.size());
}

void Image::set(int y, int x, Rgb colour) {
  if (y < 0 || x < 0 || y >= height_ || x >= width_) return;
  uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  p[0] = colour.r;
  p[1] = colour.g;
  p[2] = colour.b;
}

Rgb Image::get(int y, int x) const {
  if (y < 0 || x < 0 || y >= height_ || x >= width_) return {};
  const uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Image::fill_rect(int y0, int x0, int height, int width, Rgb colour) {
  const int y1 = std::min(height_, y0 + height), x1 = std::min(width_, x0 + width);
  for (int y = std::max(0, y0); y < y1; ++y) {
    for (int x = std::max(0, x0); x < x1; ++x) set(y, x, colour);
  }
}

void Image::blit(const Image& source, int y0, int x0, int scale) {
  RIL_CHECK(scale >= 1, "blit scale must be >= 1, got ", scale);
  for (int y = 0; y < source.height() * scale; ++y) {
    for (int x = 0; x < source.width() * scale; ++x) {
      set(y0 + y, x0 + x, source.get(y / scale, x / scale));
    }
  }
}

}  // namespace ril::data
