#include "ril/model/internvl_image_processor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <torch/torch.h>

#include "ril/common/error.h"
#include "ril/model/image_processor.h"

namespace ril::model {
namespace {

void check_size(const InternVLConfig& config, int64_t height, int64_t width) {
  const int64_t p = config.vision_config.patch_size;
  RIL_CONFIG_CHECK(height >= p && width >= p, "InternVL: a ", height, "x", width,
                   " image is smaller than one patch (", p, " px, vision_config.patch_size)");
}

}  // namespace

std::pair<int64_t, int64_t> internvl_tile_grid(int64_t height, int64_t width, int64_t tile, int64_t min_tiles,
                                               int64_t max_tiles) {
  std::vector<std::pair<int64_t, int64_t>> grids;  // (columns, rows)
  for (int64_t c = 1; c <= max_tiles; ++c) {
    for (int64_t r = 1; r <= max_tiles; ++r) {
      if (c * r >= min_tiles && c * r <= max_tiles) grids.emplace_back(c, r);
    }
  }
  std::stable_sort(grids.begin(), grids.end(),
                   [](const auto& a, const auto& b) { return a.first * a.second < b.first * b.second; });
  const double aspect = static_cast<double>(width) / static_cast<double>(height);
  const double area = static_cast<double>(width) * static_cast<double>(height);
  double best_diff = std::numeric_limits<double>::infinity();
  std::pair<int64_t, int64_t> best{1, 1};
  for (const auto& g : grids) {
    const double diff = std::abs(aspect - static_cast<double>(g.first) / static_cast<double>(g.second));
    if (diff < best_diff) {
      best_diff = diff;
      best = g;
    } else if (diff == best_diff &&
               area > 0.5 * static_cast<double>(tile) * static_cast<double>(tile) * static_cast<double>(g.first * g.second)) {
      best = g;
    }
  }
  return best;
}

int64_t internvl_num_tiles(const InternVLConfig& config, int64_t height, int64_t width) {
  check_size(config, height, width);
  const InternVLImageProcessorConfig& p = config.image_processor;
  if (!p.crop_to_patches) return 1;
  auto [cols, rows] = internvl_tile_grid(height, width, config.vision_config.image_size, p.min_patches, p.max_patches);
  return cols * rows == 1 ? 1 : cols * rows + 1;  // + thumbnail
}

int64_t internvl_num_image_tokens(const InternVLConfig& config, int64_t height, int64_t width) {
  return internvl_num_tiles(config, height, width) * config.tokens_per_tile();
}

ImageInputs internvl_preprocess(const InternVLConfig& config, const RgbImage& image) {
  check_size(config, image.height, image.width);
  const InternVLImageProcessorConfig& p = config.image_processor;
  const int64_t s = config.vision_config.image_size;
  std::vector<torch::Tensor> tiles;
  auto [cols, rows] = p.crop_to_patches ? internvl_tile_grid(image.height, image.width, s, p.min_patches, p.max_patches)
                                        : std::pair<int64_t, int64_t>{1, 1};
  const RgbImage canvas = resize_bicubic(image, rows * s, cols * s);
  for (int64_t i = 0; i < rows * cols; ++i) {
    tiles.push_back(normalise_image(crop(canvas, (i / cols) * s, (i % cols) * s, s, s), p.image_mean, p.image_std));
  }
  if (tiles.size() > 1) tiles.push_back(normalise_image(resize_bicubic(image, s, s), p.image_mean, p.image_std));  // thumbnail
  ImageInputs out;
  out.pixel_values = torch::stack(tiles, 0);
  out.tiles = {static_cast<int64_t>(tiles.size())};
  out.tokens = {static_cast<int64_t>(tiles.size()) * config.tokens_per_tile()};
  return out;
}

}  // namespace ril::model
