#include "ril/data/scene_renderer.h"

#include <algorithm>
#include <cmath>

#include "ril/common/error.h"
#include "ril/data/bitmap_font.h"

namespace ril::data {
namespace {

uint8_t clamp_byte(int value) { return static_cast<uint8_t>(std::clamp(value, 0, 255)); }

Rgb jitter(Rgb c, int amount, DataRng& rng) {
  if (amount <= 0) return c;
  auto j = [&](uint8_t v) { return clamp_byte(v + static_cast<int>(rng.uniform_int(-amount, amount))); };
  const uint8_t r = j(c.r), g = j(c.g), b = j(c.b);  // fixed evaluation order
  return {r, g, b};
}

}  // namespace

bool object_covers(const SceneObject& o, int row, int col) {
  if (row < o.y || col < o.x || row >= o.y + o.h || col >= o.x + o.w) return false;
  // Coordinates relative to the box centre, in pixels, measured at pixel centres.
  const double dx = (col + 0.5) - (o.x + o.w / 2.0);
  const double dy = (row + 0.5) - (o.y + o.h / 2.0);
  const double rx = o.w / 2.0, ry = o.h / 2.0;
  switch (o.shape) {
    case ShapeKind::kSquare: return true;
    case ShapeKind::kCircle: return (dx * dx) / (rx * rx) + (dy * dy) / (ry * ry) <= 1.0;
    case ShapeKind::kDiamond: return std::abs(dx) / rx + std::abs(dy) / ry <= 1.0;
    case ShapeKind::kTriangle: {
      // Apex at the top centre, base along the bottom edge.
      const double t = ((row + 0.5) - o.y) / o.h;  // 0 at the top, 1 at the bottom
      return std::abs(dx) <= t * rx;
    }
    case ShapeKind::kDigit: {
      const int scale = std::max(1, o.h / kGlyphHeight);
      return glyph_pixel(static_cast<char>('0' + o.digit), (row - o.y) / scale, (col - o.x) / scale);
    }
  }
  return false;
}

Image render_scene(const Scene& scene, const RenderOptions& options, DataRng& rng) {
  Image image(scene.height, scene.width, options.background);
  for (const SceneObject& o : scene.objects) {
    RIL_CHECK(o.shape != ShapeKind::kDigit || (o.digit >= 0 && o.digit <= 9),
              "digit object needs a digit 0-9, got ", o.digit);
    const Rgb colour = jitter(colour_rgb(o.colour), options.colour_jitter, rng);
    for (int row = o.y; row < o.y + o.h; ++row) {
      for (int col = o.x; col < o.x + o.w; ++col) {
        if (object_covers(o, row, col)) image.set(row, col, colour);
      }
    }
  }
  if (options.noise > 0) {
    for (uint8_t& v : image.bytes()) {
      v = clamp_byte(v + static_cast<int>(rng.uniform_int(-options.noise, options.noise)));
    }
  }
  return image;
}

}  // namespace ril::data
