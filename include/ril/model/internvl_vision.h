// InternViT, weight-compatible with HF InternVLVisionModel (the -hf InternVL3 checkpoints). Names
// (under `vision_tower.` in the full model):
//   embeddings.cls_token [1, 1, D], embeddings.position_embeddings [1, N + 1, D] (absolute positions)
//   embeddings.patch_embeddings.projection.{weight,bias}     Conv2d(C, D, P, stride P)
//   encoder.layer.N.layernorm_before.{weight[,bias]}         LayerNorm, or RMSNorm (no bias; ViT-6B)
//   encoder.layer.N.attention.{q,k,v}_proj.{weight[,bias]}   bias per attention_bias
//   encoder.layer.N.attention.{q,k}_norm.weight              RMSNorm over all heads (use_qk_norm)
//   encoder.layer.N.attention.projection_layer.{weight,bias}
//   encoder.layer.N.lambda_1, lambda_2 [D]                   layer scale
//   encoder.layer.N.layernorm_after.{weight[,bias]}
//   encoder.layer.N.mlp.fc{1,2}.{weight,bias}                GELU (erf) between
//   layernorm.{weight,bias}                                  only without use_mean_pooling
// Layer: h = x + lambda_1 * attn(norm_before(x)); out = h + lambda_2 * mlp(norm_after(h)).
#pragma once

#include <vector>

#include <torch/torch.h>

#include "ril/model/internvl_config.h"

namespace ril::model {

// LayerNorm (weight + bias) or RMSNorm (weight), per InternVLVisionConfig::norm_type.
struct InternVLVisionNormOptions {
  InternVLVisionNormOptions(int64_t dim, bool rms) : dim_(dim), rms_(rms) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(bool, rms);
  TORCH_ARG(double, eps) = 1e-6;
};

class InternVLVisionNormImpl : public torch::nn::Cloneable<InternVLVisionNormImpl> {
 public:
  explicit InternVLVisionNormImpl(const InternVLVisionNormOptions& options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  InternVLVisionNormOptions options;
  torch::Tensor weight, bias;  // bias undefined for RMSNorm
};
TORCH_MODULE(InternVLVisionNorm);

class InternVLVisionPatchEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit InternVLVisionPatchEmbeddingsImpl(const InternVLVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& pixel_values);  // [N, C, S, S] -> [N, (S/P)^2, D]
  torch::nn::Conv2d projection{nullptr};
};
TORCH_MODULE(InternVLVisionPatchEmbeddings);

class InternVLVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit InternVLVisionEmbeddingsImpl(const InternVLVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& pixel_values);  // -> [N, 1 + (S/P)^2, D], CLS first
  torch::Tensor cls_token, position_embeddings;             // position_embeddings undefined if not absolute
  InternVLVisionPatchEmbeddings patch_embeddings{nullptr};
};
TORCH_MODULE(InternVLVisionEmbeddings);

class InternVLVisionAttentionImpl : public torch::nn::Module {
 public:
  explicit InternVLVisionAttentionImpl(const InternVLVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [N, L, D] -> [N, L, D], bidirectional
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, projection_layer{nullptr};
  InternVLVisionNorm q_norm{nullptr}, k_norm{nullptr};  // use_qk_norm only

 private:
  int64_t num_heads_, head_dim_;
};
TORCH_MODULE(InternVLVisionAttention);

class InternVLVisionMLPImpl : public torch::nn::Module {
 public:
  explicit InternVLVisionMLPImpl(const InternVLVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(InternVLVisionMLP);

class InternVLVisionLayerImpl : public torch::nn::Module {
 public:
  explicit InternVLVisionLayerImpl(const InternVLVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  InternVLVisionAttention attention{nullptr};
  InternVLVisionMLP mlp{nullptr};
  InternVLVisionNorm layernorm_before{nullptr}, layernorm_after{nullptr};
  torch::Tensor lambda_1, lambda_2;
};
TORCH_MODULE(InternVLVisionLayer);

class InternVLVisionEncoderImpl : public torch::nn::Module {
 public:
  explicit InternVLVisionEncoderImpl(const InternVLVisionConfig& config);
  torch::nn::ModuleList layer{nullptr};
  std::vector<InternVLVisionLayer> layer_list;
};
TORCH_MODULE(InternVLVisionEncoder);

struct InternVLVisionOutput {
  torch::Tensor last_hidden_state;           // [N, L, D] (after `layernorm` when it exists)
  std::vector<torch::Tensor> hidden_states;  // HF tuple: [0] embeddings, [i] after layer i
};

class InternVLVisionModelImpl : public torch::nn::Module {
 public:
  explicit InternVLVisionModelImpl(const InternVLVisionConfig& config);
  // pixel_values [N, C, S, S], S = image_size (tiles).
  InternVLVisionOutput forward(const torch::Tensor& pixel_values);
  const InternVLVisionConfig& config() const { return config_; }
  InternVLVisionEmbeddings embeddings{nullptr};
  InternVLVisionEncoder encoder{nullptr};
  torch::nn::LayerNorm layernorm{nullptr};  // null with use_mean_pooling

 private:
  InternVLVisionConfig config_;
};
TORCH_MODULE(InternVLVisionModel);

}  // namespace ril::model
