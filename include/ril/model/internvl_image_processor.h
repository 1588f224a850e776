// InternVL's image processing (GotOcr2ImageProcessor with crop_to_patches, as InternVLProcessor
// calls it): dynamic tiling.
//   1. Among the (columns, rows) grids with min_patches <= columns * rows <= max_patches (listed
//      columns-major, stably sorted by tile count), take the one whose columns / rows is closest to
//      the image's width / height; on a tie the later (larger) grid wins while the image's area is
//      more than half the grid's.
//   2. Bicubic resize to (rows * S) x (columns * S), cut into S x S tiles row by row, and add the
//      whole image resized to S x S (the thumbnail) when there is more than one tile.
//   3. Rescale 1/255, normalise (ImageNet mean/std in InternVL's files).
// Each tile gives tokens_per_tile image tokens (256 at 448 px).
#pragma once

#include <cstdint>
#include <utility>

#include "ril/model/image_inputs.h"
#include "ril/model/image_resize.h"
#include "ril/model/internvl_config.h"

namespace ril::model {

// (columns, rows) of the tiling HF's get_optimal_tiled_canvas chooses.
std::pair<int64_t, int64_t> internvl_tile_grid(int64_t height, int64_t width, int64_t tile, int64_t min_tiles,
                                               int64_t max_tiles);
// Tiles of an image of this size, thumbnail included.
int64_t internvl_num_tiles(const InternVLConfig& config, int64_t height, int64_t width);
int64_t internvl_num_image_tokens(const InternVLConfig& config, int64_t height, int64_t width);
// One image -> pixel_values [tiles, 3, S, S] float32, tiles {n}, tokens {n * tokens_per_tile}.
ImageInputs internvl_preprocess(const InternVLConfig& config, const RgbImage& image);

}  // namespace ril::model
