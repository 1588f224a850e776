#include "ril/model/image_inputs.h"

#include <numeric>

#include <torch/torch.h>

#include "ril/common/error.h"

namespace ril::model {
namespace {

// Rows of pixel_values that image i takes, as [first, count).
std::pair<int64_t, int64_t> rows_of(const ImageInputs& in, int64_t i) {
  if (in.image_grid_thw.defined()) {
    torch::Tensor rows = in.image_grid_thw.to(torch::kCPU).prod(1);
    return {rows.narrow(0, 0, i).sum().item<int64_t>(), rows[i].item<int64_t>()};
  }
  if (!in.tiles.empty()) {
    const int64_t first = std::accumulate(in.tiles.begin(), in.tiles.begin() + i, int64_t{0});
    return {first, in.tiles[i]};
  }
  return {i, 1};
}

}  // namespace

int64_t ImageInputs::num_images() const {
  if (!defined()) return 0;
  if (image_grid_thw.defined()) return image_grid_thw.size(0);
  if (!tiles.empty()) return static_cast<int64_t>(tiles.size());
  return pixel_values.size(0);
}

ImageInputs ImageInputs::select(int64_t i) const {
  RIL_CHECK(i >= 0 && i < num_images(), "ImageInputs::select: image ", i, " of ", num_images());
  auto [first, count] = rows_of(*this, i);
  ImageInputs out;
  out.pixel_values = pixel_values.narrow(0, first, count);
  if (image_grid_thw.defined()) out.image_grid_thw = image_grid_thw.narrow(0, i, 1);
  if (!tiles.empty()) out.tiles = {tiles[i]};
  if (!tokens.empty()) out.tokens = {tokens[i]};
  return out;
}

ImageInputs ImageInputs::cat(const std::vector<ImageInputs>& parts) {
  ImageInputs out;
  std::vector<torch::Tensor> pixels, grids;
  for (const ImageInputs& p : parts) {
    if (!p.defined()) continue;
    pixels.push_back(p.pixel_values);
    if (p.image_grid_thw.defined()) grids.push_back(p.image_grid_thw);
    out.tiles.insert(out.tiles.end(), p.tiles.begin(), p.tiles.end());
    out.tokens.insert(out.tokens.end(), p.tokens.begin(), p.tokens.end());
  }
  if (pixels.empty()) return out;
  RIL_CHECK(grids.empty() || grids.size() == pixels.size(), "ImageInputs::cat: mixed families");
  out.pixel_values = torch::cat(pixels, 0);
  if (!grids.empty()) out.image_grid_thw = torch::cat(grids, 0);
  return out;
}

ImageInputs ImageInputs::to(const torch::TensorOptions& options) const {
  ImageInputs out = *this;
  if (pixel_values.defined()) out.pixel_values = pixel_values.to(options);
  if (image_grid_thw.defined()) out.image_grid_thw = image_grid_thw.to(options.device());
  return out;
}

}  // namespace ril::model
