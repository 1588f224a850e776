// SigLIP vision tower, weight-compatible with HF SiglipVisionModel (without the pooling head,
// which LLaVA never uses). Parameter names:
//   vision_model.embeddings.patch_embedding.{weight,bias}     Conv2d(C, D, patch, stride patch)
//   vision_model.embeddings.position_embedding.weight         [num_patches, D]
//   vision_model.encoder.layers.N.layer_norm1.{weight,bias}
//   vision_model.encoder.layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}
//   vision_model.encoder.layers.N.layer_norm2.{weight,bias}
//   vision_model.encoder.layers.N.mlp.fc{1,2}.{weight,bias}   (gelu_pytorch_tanh between)
//   vision_model.post_layernorm.{weight,bias}
#pragma once

#include <vector>

#include <torch/torch.h>

#include "ril/model/model_config.h"

namespace ril::model {

class SiglipVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit SiglipVisionEmbeddingsImpl(const SiglipVisionConfig& config);
  // pixel_values [N, C, H, W] -> patch embeddings + positions [N, num_patches, D]
  torch::Tensor forward(const torch::Tensor& pixel_values);
  torch::nn::Conv2d patch_embedding{nullptr};
  torch::nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(SiglipVisionEmbeddings);

class SiglipAttentionImpl : public torch::nn::Module {
 public:
  explicit SiglipAttentionImpl(const SiglipVisionConfig& config);
  // x [N, L, D] -> [N, L, D], full (bidirectional) attention
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t num_heads_, head_dim_;
};
TORCH_MODULE(SiglipAttention);

class SiglipMLPImpl : public torch::nn::Module {
 public:
  explicit SiglipMLPImpl(const SiglipVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [N, L, D] -> [N, L, D]
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  std::string act_;
};
TORCH_MODULE(SiglipMLP);

class SiglipEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit SiglipEncoderLayerImpl(const SiglipVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [N, L, D] -> [N, L, D]
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  SiglipAttention self_attn{nullptr};
  SiglipMLP mlp{nullptr};
};
TORCH_MODULE(SiglipEncoderLayer);

class SiglipEncoderImpl : public torch::nn::Module {
 public:
  explicit SiglipEncoderImpl(const SiglipVisionConfig& config);
  torch::nn::ModuleList layers{nullptr};
  std::vector<SiglipEncoderLayer> layer_list;
};
TORCH_MODULE(SiglipEncoder);

class SiglipVisionTransformerImpl : public torch::nn::Module {
 public:
  explicit SiglipVisionTransformerImpl(const SiglipVisionConfig& config);
  SiglipVisionEmbeddings embeddings{nullptr};
  SiglipEncoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(SiglipVisionTransformer);

struct SiglipVisionOutput {
  torch::Tensor last_hidden_state;          // [N, L, D], after post_layernorm
  std::vector<torch::Tensor> hidden_states; // HF tuple: [0] embeddings, [i] after layer i
                                            // (no post_layernorm), each [N, L, D]
};

class SiglipVisionModelImpl : public torch::nn::Module {
 public:
  explicit SiglipVisionModelImpl(const SiglipVisionConfig& config);
  // pixel_values [N, C, H, W] (cast to the parameters' dtype)
  SiglipVisionOutput forward(const torch::Tensor& pixel_values);
  const SiglipVisionConfig& config() const { return config_; }
  SiglipVisionTransformer vision_model{nullptr};

 private:
  SiglipVisionConfig config_;
};
TORCH_MODULE(SiglipVisionModel);

}  // namespace ril::model
