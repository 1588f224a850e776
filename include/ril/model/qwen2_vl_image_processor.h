// Qwen2VLImageProcessor (used by Qwen2.5-VL): dynamic resolution.
//   1. smart_resize: height and width become multiples of factor = patch_size * merge_size,
//      as close to the original as the [min_pixels, max_pixels] budget allows (HF's formula,
//      Python rounding included: round half to even).
//   2. Bicubic resize (image_resize.h), rescale 1/255, normalise with the CLIP mean/std.
//   3. Temporal duplication (an image is a 2-frame clip of itself) and patchify into
//      [grid_t * grid_h * grid_w, C * T * P * P] rows, ordered by 2x2 merge block (row-major), then
//      within the block (row-major); each row is (channel, frame, y, x).
// Errors: an image smaller than one merged patch (factor) on a side, an aspect ratio above 200.
#pragma once

#include <cstdint>
#include <utility>

#include "ril/model/image_inputs.h"
#include "ril/model/image_resize.h"
#include "ril/model/qwen2_5_vl_config.h"

namespace ril::model {

// (height, width) after smart_resize. `source` names the model in errors.
std::pair<int64_t, int64_t> qwen2_vl_smart_resize(int64_t height, int64_t width, int64_t factor,
                                                  int64_t min_pixels, int64_t max_pixels,
                                                  const std::string& source = "Qwen2.5-VL");
// Image tokens (merged patches) in the prompt for an image of this size.
int64_t qwen2_vl_num_image_tokens(const Qwen2_5_VLConfig& config, int64_t height, int64_t width);
// One image -> pixel_values [L, C * T * P * P] float32, image_grid_thw [1, 3], tokens {L / merge^2}.
ImageInputs qwen2_vl_preprocess(const Qwen2_5_VLConfig& config, const RgbImage& image);

}  // namespace ril::model
