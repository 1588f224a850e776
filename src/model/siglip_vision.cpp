#include "ril/model/siglip_vision.h"

#include "ril/common/error.h"
#include "ril/model/attention.h"

namespace ril::model {

SiglipVisionEmbeddingsImpl::SiglipVisionEmbeddingsImpl(const SiglipVisionConfig& c) {
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size)
                            .stride(c.patch_size)
                            .bias(true)));
  position_embedding =
      register_module("position_embedding", torch::nn::Embedding(c.num_patches(), c.hidden_size));
}

torch::Tensor SiglipVisionEmbeddingsImpl::forward(const torch::Tensor& pixel_values) {
  // [N, C, H, W] -> [N, D, H/p, W/p] -> [N, L, D]
  torch::Tensor x = patch_embedding->forward(pixel_values.to(patch_embedding->weight.options()));
  x = x.flatten(2).transpose(1, 2);
  TORCH_CHECK(x.size(1) == position_embedding->weight.size(0), "SigLIP: ", x.size(1),
              " patches for image ", pixel_values.sizes(), ", position table has ",
              position_embedding->weight.size(0));
  return x + position_embedding->weight.unsqueeze(0);  // positions 0..L-1
}

SiglipAttentionImpl::SiglipAttentionImpl(const SiglipVisionConfig& c)
    : num_heads_(c.num_attention_heads), head_dim_(c.hidden_size / c.num_attention_heads) {
  const int64_t d = c.hidden_size;
  k_proj = register_module("k_proj", torch::nn::Linear(d, d));
  v_proj = register_module("v_proj", torch::nn::Linear(d, d));
  q_proj = register_module("q_proj", torch::nn::Linear(d, d));
  out_proj = register_module("out_proj", torch::nn::Linear(d, d));
}

torch::Tensor SiglipAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), l = x.size(1);
  auto heads = [&](const torch::Tensor& t) {  // [N, L, D] -> [N, H, L, Dh]
    return t.view({n, l, num_heads_, head_dim_}).transpose(1, 2);
  };
  torch::Tensor out = scaled_dot_product_attention(heads(q_proj->forward(x)), heads(k_proj->forward(x)),
                                                   heads(v_proj->forward(x)), torch::Tensor());
  return out_proj->forward(out.transpose(1, 2).reshape({n, l, num_heads_ * head_dim_}));
}

SiglipMLPImpl::SiglipMLPImpl(const SiglipVisionConfig& c) : act_(c.hidden_act) {
  fc1 = register_module("fc1", torch::nn::Linear(c.hidden_size, c.intermediate_size));
  fc2 = register_module("fc2", torch::nn::Linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor SiglipMLPImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = fc1->forward(x);
  h = act_ == "gelu_pytorch_tanh" ? torch::gelu(h, "tanh") : torch::gelu(h);
  return fc2->forward(h);
}

SiglipEncoderLayerImpl::SiglipEncoderLayerImpl(const SiglipVisionConfig& c) {
  auto ln = [&] {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
  };
  layer_norm1 = register_module("layer_norm1", ln());
  self_attn = register_module("self_attn", SiglipAttention(c));
  layer_norm2 = register_module("layer_norm2", ln());
  mlp = register_module("mlp", SiglipMLP(c));
}

torch::Tensor SiglipEncoderLayerImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x + self_attn->forward(layer_norm1->forward(x));
  return h + mlp->forward(layer_norm2->forward(h));
}

SiglipEncoderImpl::SiglipEncoderImpl(const SiglipVisionConfig& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layer_list.emplace_back(c);
    layers->push_back(layer_list.back());
  }
}

SiglipVisionTransformerImpl::SiglipVisionTransformerImpl(const SiglipVisionConfig& c) {
  embeddings = register_module("embeddings", SiglipVisionEmbeddings(c));
  encoder = register_module("encoder", SiglipEncoder(c));
  post_layernorm = register_module(
      "post_layernorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

SiglipVisionModelImpl::SiglipVisionModelImpl(const SiglipVisionConfig& c) : config_(c) {
  c.validate("SiglipVisionModel");
  vision_model = register_module("vision_model", SiglipVisionTransformer(c));
}

SiglipVisionOutput SiglipVisionModelImpl::forward(const torch::Tensor& pixel_values) {
  TORCH_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == config_.num_channels &&
                  pixel_values.size(2) == config_.image_size &&
                  pixel_values.size(3) == config_.image_size,
              "SigLIP: pixel_values must be [N, ", config_.num_channels, ", ", config_.image_size,
              ", ", config_.image_size, "], got ", pixel_values.sizes());
  SiglipVisionOutput out;
  torch::Tensor h = vision_model->embeddings->forward(pixel_values);
  out.hidden_states.push_back(h);
  for (auto& layer : vision_model->encoder->layer_list) {
    h = layer->forward(h);
    out.hidden_states.push_back(h);
  }
  out.last_hidden_state = vision_model->post_layernorm->forward(h);
  return out;
}

}  // namespace ril::model
