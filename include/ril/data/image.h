// An 8-bit RGB image, row-major H x W x 3, the layout stored in dataset files.
#pragma once

#include <cstdint>
#include <vector>

namespace ril::data {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class Image {
 public:
  Image() = default;
  Image(int height, int width, Rgb fill = {});
  // Wraps existing H x W x 3 bytes (copied); throws if the size does not match.
  Image(int height, int width, std::vector<uint8_t> bytes);

  int height() const { return height_; }
  int width() const { return width_; }
  bool empty() const { return pixels_.empty(); }
  const std::vector<uint8_t>& bytes() const { return pixels_; }
  std::vector<uint8_t>& bytes() { return pixels_; }

  // Out-of-range coordinates are ignored (set) or give black (get): drawing code clips freely.
  void set(int y, int x, Rgb colour);
  Rgb get(int y, int x) const;
  void fill_rect(int y0, int x0, int height, int width, Rgb colour);
  // Copies `source` with its top-left corner at (y0, x0), clipped; `scale` repeats pixels.
  void blit(const Image& source, int y0, int x0, int scale = 1);

 private:
  int height_ = 0;
  int width_ = 0;
  std::vector<uint8_t> pixels_;
};

}  // namespace ril::data
