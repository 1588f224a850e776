// Qwen2.5-VL's vision transformer, weight-compatible with HF Qwen2_5_VisionTransformerPretrainedModel.
// Parameter names (under `visual.` in the full model):
//   patch_embed.proj.weight                 Conv3d(C, D, (T, P, P), stride = kernel, no bias)
//   blocks.N.norm1.weight, blocks.N.norm2.weight                RMSNorm (eps 1e-6)
//   blocks.N.attn.qkv.{weight,bias}         [3D, D]: q, k, v stacked
//   blocks.N.attn.proj.{weight,bias}
//   blocks.N.mlp.{gate,up,down}_proj.{weight,bias}              SwiGLU with biases
//   merger.ln_q.weight                      RMSNorm (eps 1e-6) before the 2x2 merge
//   merger.mlp.0.{weight,bias}, merger.mlp.2.{weight,bias}      Linear(4D, 4D), GELU, Linear(4D, out)
//
// Per image of patch grid (1, h, w) (rows as the processor orders them: by 2x2 merge block):
//   x = patch_embed(pixels) [h*w, D]; 2-D rotary positions (row, col) of each patch, head_dim / 4
//   frequencies each for rows and columns; the patches are regrouped by attention window (windows
//   of window_size / patch / merge merged units a side, row-major, the last ones cut at the image
//   edge); blocks in fullatt_block_indexes attend over the whole image, the others within their
//   window; then ln_q, merge each 2x2 block into one 4D vector, the MLP, and the original order
//   back. Output: [h*w / 4, out_hidden_size]. Images never attend to each other.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "ril/model/qwen2_5_vl_config.h"
#include "ril/model/qwen2_decoder.h"

namespace ril::model {

class Qwen2_5_VisionPatchEmbedImpl : public torch::nn::Module {
 public:
  explicit Qwen2_5_VisionPatchEmbedImpl(const Qwen2_5_VisionConfig& config);
  // pixel rows [L, C * T * P * P] -> [L, D] (the 3-D convolution over one patch is a matmul)
  torch::Tensor forward(const torch::Tensor& pixels);
  torch::nn::Conv3d proj{nullptr};
};
TORCH_MODULE(Qwen2_5_VisionPatchEmbed);

class Qwen2_5_VLVisionAttentionImpl : public torch::nn::Module {
 public:
  explicit Qwen2_5_VLVisionAttentionImpl(const Qwen2_5_VisionConfig& config);
  // x [L, D]; cos, sin [L, Dh]; segments: lengths summing to L, attention stays inside each.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const std::vector<int64_t>& segments);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t num_heads_, head_dim_;
};
TORCH_MODULE(Qwen2_5_VLVisionAttention);

class Qwen2_5_VLVisionMLPImpl : public torch::nn::Module {
 public:
  explicit Qwen2_5_VLVisionMLPImpl(const Qwen2_5_VisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Qwen2_5_VLVisionMLP);

class Qwen2_5_VLVisionBlockImpl : public torch::nn::Module {
 public:
  explicit Qwen2_5_VLVisionBlockImpl(const Qwen2_5_VisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const std::vector<int64_t>& segments);
  RMSNorm norm1{nullptr}, norm2{nullptr};
  Qwen2_5_VLVisionAttention attn{nullptr};
  Qwen2_5_VLVisionMLP mlp{nullptr};
};
TORCH_MODULE(Qwen2_5_VLVisionBlock);

class Qwen2_5_VLPatchMergerImpl : public torch::nn::Module {
 public:
  explicit Qwen2_5_VLPatchMergerImpl(const Qwen2_5_VisionConfig& config);
  // x [L, D] (2x2 blocks consecutive) -> [L / 4, out_hidden_size]
  torch::Tensor forward(const torch::Tensor& x);
  RMSNorm ln_q{nullptr};
  torch::nn::Sequential mlp{nullptr};

 private:
  int64_t merged_dim_;
};
TORCH_MODULE(Qwen2_5_VLPatchMerger);

// Window regrouping of one image: `order` lists merged units (row-major ids) window by window;
// `lengths` the units in each window.
struct VisionWindows {
  std::vector<int64_t> order;
  std::vector<int64_t> lengths;
};
// Windows of `window` x `window` merged units over an llm grid of `rows` x `cols` units.
VisionWindows vision_windows(int64_t rows, int64_t cols, int64_t window);

class Qwen2_5_VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit Qwen2_5_VisionTransformerImpl(const Qwen2_5_VisionConfig& config);
  // pixel_values [sum L_i, C * T * P * P], grid_thw [N, 3] -> [sum L_i / merge^2, out_hidden_size].
  // Throws for a grid with t != 1 (video) or sides not divisible by the merge size.
  torch::Tensor forward(const torch::Tensor& pixel_values, const torch::Tensor& grid_thw);
  // One image of patch grid h x w: pixels [h * w, C * T * P * P] -> [h * w / merge^2, out].
  torch::Tensor forward_image(const torch::Tensor& pixels, int64_t h, int64_t w);
  const Qwen2_5_VisionConfig& config() const { return config_; }

  Qwen2_5_VisionPatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  Qwen2_5_VLPatchMerger merger{nullptr};

 private:
  // cos, sin [h * w, Dh] for the patches in processor order.
  std::pair<torch::Tensor, torch::Tensor> rotary(int64_t h, int64_t w, const torch::TensorOptions& options) const;
  Qwen2_5_VisionConfig config_;
  std::vector<Qwen2_5_VLVisionBlock> block_list_;
};
TORCH_MODULE(Qwen2_5_VisionTransformer);

}  // namespace ril::model
