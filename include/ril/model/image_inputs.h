// What a vision-language model takes for its images, whichever the family:
//   LLaVA (SigLIP):  pixel_values [N, 3, S, S]; one image per row.
//   InternVL:        pixel_values [T, 3, S, S], T = sum of the images' tiles (thumbnail included);
//                    tiles[i] = tiles of image i.
//   Qwen2.5-VL:      pixel_values [L, 3 * 2 * P * P], L = sum of t * h * w patch rows (HF's
//                    flattened layout); image_grid_thw [N, 3] = (t, h, w) in patches.
// Images are in the order their placeholders appear in the batch (row by row).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace ril::model {

struct ImageInputs {
  torch::Tensor pixel_values;    // float32 (see above)
  torch::Tensor image_grid_thw;  // Qwen2.5-VL only: [N, 3] int64
  std::vector<int64_t> tiles;    // InternVL only: tiles per image
  std::vector<int64_t> tokens;   // placeholder tokens each image takes in the prompt

  bool defined() const { return pixel_values.defined(); }
  int64_t num_images() const;
  // Image i alone.
  ImageInputs select(int64_t i) const;
  // The images of `parts`, in order.
  static ImageInputs cat(const std::vector<ImageInputs>& parts);
  // pixel_values moved (and cast, floating point only) to `options`; the grid moves to its device.
  ImageInputs to(const torch::TensorOptions& options) const;
};

}  // namespace ril::model
