#include "ril/model/qwen2_5_vl_vision.h"

#include "ril/common/error.h"
#include "ril/model/attention.h"

namespace ril::model {

// ----- patch embedding -------------------------------------------------------------------------

Qwen2_5_VisionPatchEmbedImpl::Qwen2_5_VisionPatchEmbedImpl(const Qwen2_5_VisionConfig& c) {
  const int64_t t = c.temporal_patch_size, p = c.patch_size;
  proj = register_module(
      "proj", torch::nn::Conv3d(torch::nn::Conv3dOptions(c.in_channels, c.hidden_size, {t, p, p}).stride({t, p, p}).bias(false)));
}

torch::Tensor Qwen2_5_VisionPatchEmbedImpl::forward(const torch::Tensor& pixels) {
  const torch::Tensor w = proj->weight.view({proj->weight.size(0), -1});  // [D, C*T*P*P]
  TORCH_CHECK(pixels.dim() == 2 && pixels.size(1) == w.size(1), "Qwen2.5-VL patch_embed: pixel rows must be [L, ",
              w.size(1), "], got ", pixels.sizes());
  return torch::matmul(pixels.to(w.scalar_type()), w.t());  // [L, D]
}

// ----- attention -------------------------------------------------------------------------------

Qwen2_5_VLVisionAttentionImpl::Qwen2_5_VLVisionAttentionImpl(const Qwen2_5_VisionConfig& c)
    : num_heads_(c.num_heads), head_dim_(c.head_dim()) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, 3 * c.hidden_size).bias(true)));
  proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.hidden_size).bias(true)));
}

torch::Tensor Qwen2_5_VLVisionAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                                     const torch::Tensor& sin, const std::vector<int64_t>& segments) {
  const int64_t l = x.size(0);
  // [L, 3, H, Dh] -> q, k, v as [1, H, L, Dh]
  torch::Tensor qkv_all = qkv->forward(x).view({l, 3, num_heads_, head_dim_}).permute({1, 2, 0, 3}).unsqueeze(1);
  torch::Tensor q = qkv_all[0], k = qkv_all[1], v = qkv_all[2];
  // 2-D rotary in float32, as HF's apply_rotary_pos_emb_vision
  const torch::Tensor c = cos.unsqueeze(0), s = sin.unsqueeze(0);  // [1, L, Dh]
  q = apply_rotary(q.to(torch::kFloat32), c, s).to(x.scalar_type());
  k = apply_rotary(k.to(torch::kFloat32), c, s).to(x.scalar_type());
  std::vector<torch::Tensor> outs;
  int64_t start = 0;
  for (int64_t len : segments) {
    outs.push_back(scaled_dot_product_attention(q.narrow(2, start, len), k.narrow(2, start, len),
                                                v.narrow(2, start, len), torch::Tensor()));
    start += len;
  }
  TORCH_CHECK(start == l, "Qwen2.5-VL vision attention: segments cover ", start, " of ", l, " patches");
  torch::Tensor out = outs.size() == 1 ? outs[0] : torch::cat(outs, 2);  // [1, H, L, Dh]
  return proj->forward(out.squeeze(0).transpose(0, 1).reshape({l, num_heads_ * head_dim_}));
}

// ----- MLP, block, merger ----------------------------------------------------------------------

Qwen2_5_VLVisionMLPImpl::Qwen2_5_VLVisionMLPImpl(const Qwen2_5_VisionConfig& c) {
  using torch::nn::LinearOptions;
  gate_proj = register_module("gate_proj", torch::nn::Linear(LinearOptions(c.hidden_size, c.intermediate_size).bias(true)));
  up_proj = register_module("up_proj", torch::nn::Linear(LinearOptions(c.hidden_size, c.intermediate_size).bias(true)));
  down_proj = register_module("down_proj", torch::nn::Linear(LinearOptions(c.intermediate_size, c.hidden_size).bias(true)));
}

torch::Tensor Qwen2_5_VLVisionMLPImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

Qwen2_5_VLVisionBlockImpl::Qwen2_5_VLVisionBlockImpl(const Qwen2_5_VisionConfig& c) {
  norm1 = register_module("norm1", RMSNorm(RMSNormOptions(c.hidden_size).eps(1e-6)));
  norm2 = register_module("norm2", RMSNorm(RMSNormOptions(c.hidden_size).eps(1e-6)));
  attn = register_module("attn", Qwen2_5_VLVisionAttention(c));
  mlp = register_module("mlp", Qwen2_5_VLVisionMLP(c));
}

torch::Tensor Qwen2_5_VLVisionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                                 const torch::Tensor& sin, const std::vector<int64_t>& segments) {
  torch::Tensor h = x + attn->forward(norm1->forward(x), cos, sin, segments);
  return h + mlp->forward(norm2->forward(h));
}

Qwen2_5_VLPatchMergerImpl::Qwen2_5_VLPatchMergerImpl(const Qwen2_5_VisionConfig& c)
    : merged_dim_(c.hidden_size * c.spatial_merge_size * c.spatial_merge_size) {
  ln_q = register_module("ln_q", RMSNorm(RMSNormOptions(c.hidden_size).eps(1e-6)));
  mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(merged_dim_, merged_dim_), torch::nn::GELU(),
                                                     torch::nn::Linear(merged_dim_, c.out_hidden_size)));
}

torch::Tensor Qwen2_5_VLPatchMergerImpl::forward(const torch::Tensor& x) {
  return mlp->forward(ln_q->forward(x).reshape({-1, merged_dim_}));
}

// ----- windows and the tower -------------------------------------------------------------------

VisionWindows vision_windows(int64_t rows, int64_t cols, int64_t window) {
  VisionWindows w;
  for (int64_t r0 = 0; r0 < rows; r0 += window) {
    for (int64_t c0 = 0; c0 < cols; c0 += window) {
      const int64_t r1 = std::min(rows, r0 + window), c1 = std::min(cols, c0 + window);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) w.order.push_back(r * cols + c);
      }
      w.lengths.push_back((r1 - r0) * (c1 - c0));
    }
  }
  return w;
}

Qwen2_5_VisionTransformerImpl::Qwen2_5_VisionTransformerImpl(const Qwen2_5_VisionConfig& c) : config_(c) {
  c.validate("Qwen2_5_VisionTransformer");
  patch_embed = register_module("patch_embed", Qwen2_5_VisionPatchEmbed(c));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depth; ++i) {
    block_list_.emplace_back(c);
    blocks->push_back(block_list_.back());
  }
  merger = register_module("merger", Qwen2_5_VLPatchMerger(c));
}

std::pair<torch::Tensor, torch::Tensor> Qwen2_5_VisionTransformerImpl::rotary(int64_t h, int64_t w,
                                                                            const torch::TensorOptions& options) const {
  const int64_t m = config_.spatial_merge_size, dim = config_.head_dim() / 2;
  auto iopts = torch::TensorOptions().dtype(torch::kInt64).device(options.device());
  auto fopts = torch::TensorOptions().dtype(torch::kFloat32).device(options.device());
  // inv_freq [dim / 2] = 1 / 10000^(2i / dim), in float32 as HF
  torch::Tensor inv_freq = 1.0 / torch::pow(10000.0, torch::arange(0, dim, 2, fopts) / static_cast<double>(dim));
  torch::Tensor table = torch::outer(torch::arange(std::max(h, w), fopts), inv_freq);  // [max(h, w), dim / 2]
  // (row, col) of each patch in processor order: merge block row-major, then inside the block
  auto order = [&](const torch::Tensor& grid) {
    return grid.reshape({h / m, m, w / m, m}).permute({0, 2, 1, 3}).flatten();
  };
  torch::Tensor rows = order(torch::arange(h, iopts).view({h, 1}).expand({h, w}));
  torch::Tensor cols = order(torch::arange(w, iopts).view({1, w}).expand({h, w}));
  torch::Tensor rot = torch::cat({table.index_select(0, rows), table.index_select(0, cols)}, -1);  // [L, dim]
  torch::Tensor emb = torch::cat({rot, rot}, -1);                                                // [L, Dh]
  return {emb.cos(), emb.sin()};
}

torch::Tensor Qwen2_5_VisionTransformerImpl::forward_image(const torch::Tensor& pixels, int64_t h, int64_t w) {
  const int64_t m = config_.spatial_merge_size, unit = m * m, l = h * w;
  RIL_CHECK(h % m == 0 && w % m == 0 && pixels.size(0) == l, "Qwen2.5-VL vision: a ", h, "x", w,
            " patch grid must have sides divisible by spatial_merge_size ", m, " and ", l, " pixel rows, got ",
            pixels.size(0));
  torch::Tensor x = patch_embed->forward(pixels);  // [L, D]
  auto [cos, sin] = rotary(h, w, x.options());
  const VisionWindows win = vision_windows(h / m, w / m, config_.merged_window());
  const torch::Tensor idx = torch::tensor(win.order, torch::TensorOptions().dtype(torch::kInt64)).to(x.device());
  auto by_window = [&](const torch::Tensor& t) {
    return t.view({l / unit, unit, t.size(-1)}).index_select(0, idx).reshape({l, t.size(-1)});
  };
  x = by_window(x);
  cos = by_window(cos);
  sin = by_window(sin);
  std::vector<int64_t> windows;
  for (int64_t n : win.lengths) windows.push_back(n * unit);
  const std::vector<int64_t> whole{l};
  for (size_t i = 0; i < block_list_.size(); ++i) {
    const auto& full = config_.fullatt_block_indexes;
    const bool is_full = std::find(full.begin(), full.end(), static_cast<int64_t>(i)) != full.end();
    x = block_list_[i]->forward(x, cos, sin, is_full ? whole : windows);
  }
  x = merger->forward(x);                               // [L / unit, out], window order
  return x.index_select(0, torch::argsort(idx));        // back to row-major merged units
}

torch::Tensor Qwen2_5_VisionTransformerImpl::forward(const torch::Tensor& pixel_values, const torch::Tensor& grid_thw) {
  TORCH_CHECK(grid_thw.dim() == 2 && grid_thw.size(1) == 3, "Qwen2.5-VL vision: image_grid_thw must be [N, 3], got ",
              grid_thw.sizes());
  torch::Tensor grid = grid_thw.to(torch::kCPU, torch::kInt64);
  std::vector<torch::Tensor> out;
  int64_t row = 0;
  for (int64_t i = 0; i < grid.size(0); ++i) {
    const int64_t t = grid[i][0].item<int64_t>(), h = grid[i][1].item<int64_t>(), w = grid[i][2].item<int64_t>();
    RIL_CHECK(t == 1, "Qwen2.5-VL vision: image ", i, " has grid_t ", t, "; video inputs are not supported");
    RIL_CHECK(row + h * w <= pixel_values.size(0), "Qwen2.5-VL vision: image_grid_thw asks for more than the ",
              pixel_values.size(0), " pixel rows given");
    out.push_back(forward_image(pixel_values.narrow(0, row, h * w), h, w));
    row += h * w;
  }
  RIL_CHECK(row == pixel_values.size(0), "Qwen2.5-VL vision: image_grid_thw covers ", row, " of ",
            pixel_values.size(0), " pixel rows");
  return torch::cat(out, 0);
}

}  // namespace ril::model
