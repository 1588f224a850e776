#include "ril/model/mrope.h"

#include <torch/torch.h>

#include "ril/common/error.h"
#include "ril/model/qwen2_decoder.h"

namespace ril::model {

std::pair<torch::Tensor, torch::Tensor> mrope_cos_sin(const torch::Tensor& position_ids, int64_t head_dim,
                                                      double theta, const std::vector<int64_t>& mrope_section) {
  TORCH_CHECK(position_ids.dim() == 3 && position_ids.size(0) == 3, "mrope_cos_sin: position_ids must be [3, B, T], got ",
              position_ids.sizes());
  TORCH_CHECK(mrope_section.size() == 3, "mrope_cos_sin: mrope_section must have 3 entries");
  std::vector<torch::Tensor> cos_axis, sin_axis;  // per axis [B, T, Dh]
  for (int64_t a = 0; a < 3; ++a) {
    auto [c, s] = rotary_cos_sin(position_ids[a], head_dim, theta);
    cos_axis.push_back(c);
    sin_axis.push_back(s);
  }
  // Channels [0, Dh/2) and [Dh/2, Dh) both split as (temporal, height, width) = mrope_section.
  std::vector<torch::Tensor> cos_parts, sin_parts;
  int64_t offset = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t len = mrope_section[i % 3];
    cos_parts.push_back(cos_axis[i % 3].narrow(-1, offset, len));
    sin_parts.push_back(sin_axis[i % 3].narrow(-1, offset, len));
    offset += len;
  }
  TORCH_CHECK(offset == head_dim, "mrope_cos_sin: mrope_section sums to ", offset / 2, ", head_dim / 2 is ", head_dim / 2);
  return {torch::cat(cos_parts, -1), torch::cat(sin_parts, -1)};
}

namespace {

// One row's positions over its real tokens: [3, L] values, appended to `out` by column.
struct RowBuilder {
  std::vector<int64_t> t, h, w;
  int64_t next = 0;  // the position after everything so far (max + 1)

  void text(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      t.push_back(next + i);
      h.push_back(next + i);
      w.push_back(next + i);
    }
    next += n;
  }
  // An image of llm grid (gt, gh, gw) after the text so far; images have one temporal step.
  void image(int64_t gt, int64_t gh, int64_t gw) {
    int64_t max_pos = next;
    for (int64_t a = 0; a < gt; ++a) {
      for (int64_t r = 0; r < gh; ++r) {
        for (int64_t c = 0; c < gw; ++c) {
          t.push_back(next + 0);  // images: second_per_grid_t = 0, every temporal index is 0
          h.push_back(next + r);
          w.push_back(next + c);
          max_pos = std::max({max_pos, next + r, next + c});
        }
      }
    }
    next = max_pos + 1;
  }
};

}  // namespace

MropePositions mrope_position_ids(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                  const torch::Tensor& image_grid_thw, int64_t image_token_id,
                                  int64_t spatial_merge_size) {
  TORCH_CHECK(input_ids.dim() == 2, "mrope_position_ids: input_ids must be [B, P], got ", input_ids.sizes());
  const int64_t b = input_ids.size(0), p = input_ids.size(1);
  torch::Tensor ids = input_ids.to(torch::kCPU, torch::kInt64).contiguous();
  torch::Tensor mask = attention_mask.defined() ? attention_mask.to(torch::kCPU, torch::kInt64).contiguous()
                                                : torch::ones({b, p}, torch::kInt64);
  torch::Tensor grids = image_grid_thw.defined() ? image_grid_thw.to(torch::kCPU, torch::kInt64).contiguous()
                                                 : torch::zeros({0, 3}, torch::kInt64);
  const int64_t n_images = grids.size(0);
  torch::Tensor pos = torch::ones({3, b, p}, torch::kInt64);
  torch::Tensor deltas = torch::zeros({b}, torch::kInt64);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  auto grid_a = grids.accessor<int64_t, 2>();
  auto pos_a = pos.accessor<int64_t, 3>();
  int64_t image = 0;
  for (int64_t row = 0; row < b; ++row) {
    std::vector<int64_t> cols, tok;
    for (int64_t j = 0; j < p; ++j) {
      if (mask_a[row][j] != 0) {
        cols.push_back(j);
        tok.push_back(ids_a[row][j]);
      }
    }
    RowBuilder rb;
    size_t st = 0;
    while (true) {
      size_t ed = st;
      while (ed < tok.size() && tok[ed] != image_token_id) ++ed;
      rb.text(static_cast<int64_t>(ed - st));
      if (ed == tok.size()) break;
      RIL_CHECK(image < n_images, "Qwen2.5-VL: row ", row, " has more image placeholder runs than the ", n_images,
                " images given");
      const int64_t gt = grid_a[image][0], gh = grid_a[image][1] / spatial_merge_size,
                    gw = grid_a[image][2] / spatial_merge_size;
      const auto need = static_cast<size_t>(gt * gh * gw);
      size_t run = 0;
      while (ed + run < tok.size() && tok[ed + run] == image_token_id && run < need) ++run;
      RIL_CHECK(run == need, "Qwen2.5-VL: image ", image, " (grid ", gt, "x", gh * spatial_merge_size, "x",
                gw * spatial_merge_size, ") needs ", need, " image tokens in a run; row ", row, " has ", run);
      rb.image(gt, gh, gw);
      ++image;
      st = ed + need;
    }
    for (size_t k = 0; k < cols.size(); ++k) {
      pos_a[0][row][cols[k]] = rb.t[k];
      pos_a[1][row][cols[k]] = rb.h[k];
      pos_a[2][row][cols[k]] = rb.w[k];
    }
    deltas[row] = rb.next - p;  // max + 1 - P (one store per row)
  }
  RIL_CHECK(image == n_images, "Qwen2.5-VL: ", n_images, " images given but the prompts hold placeholders for ",
            image);
  return {pos.to(input_ids.device()), deltas.to(input_ids.device())};
}

torch::Tensor rope_deltas_from_positions(const torch::Tensor& position_ids, const torch::Tensor& attention_mask) {
  const int64_t p = position_ids.size(-1);
  torch::Tensor pos = position_ids.dim() == 3 ? std::get<0>(position_ids.max(0)) : position_ids;  // [B, P]
  if (attention_mask.defined()) {
    pos = pos.masked_fill(attention_mask.to(torch::kBool).logical_not(), -1);
  }
  return std::get<0>(pos.max(1)) + 1 - p;
}

torch::Tensor positions_after_prompt(const torch::Tensor& prompt_position_ids, const torch::Tensor& rope_deltas,
                                     int64_t offset, int64_t count) {
  const int64_t p = prompt_position_ids.size(-1), b = rope_deltas.size(0);
  auto iopts = torch::TensorOptions().dtype(torch::kInt64).device(rope_deltas.device());
  torch::Tensor pos = torch::arange(p + offset, p + offset + count, iopts).unsqueeze(0) + rope_deltas.unsqueeze(1);
  if (prompt_position_ids.dim() == 3) return pos.unsqueeze(0).expand({3, b, count}).contiguous();
  return pos;
}

}  // namespace ril::model
