#include "ril/model/internvl_vision.h"

#include "ril/common/error.h"
#include "ril/model/attention.h"

namespace ril::model {

// ----- norm ------------------------------------------------------------------------------------

InternVLVisionNormImpl::InternVLVisionNormImpl(const InternVLVisionNormOptions& options_) : options(options_) {
  reset();
}

void InternVLVisionNormImpl::reset() {
  weight = register_parameter("weight", torch::ones({options.dim()}));
  if (!options.rms()) bias = register_parameter("bias", torch::zeros({options.dim()}));
}

torch::Tensor InternVLVisionNormImpl::forward(const torch::Tensor& x) {
  if (!options.rms()) return torch::layer_norm(x, {options.dim()}, weight, bias, options.eps());
  const auto dtype = x.scalar_type();
  torch::Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + options.eps());
  return weight * h.to(dtype);
}

// ----- embeddings ------------------------------------------------------------------------------

InternVLVisionPatchEmbeddingsImpl::InternVLVisionPatchEmbeddingsImpl(const InternVLVisionConfig& c) {
  projection = register_module(
      "projection",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size).stride(c.patch_size)));
}

torch::Tensor InternVLVisionPatchEmbeddingsImpl::forward(const torch::Tensor& pixel_values) {
  torch::Tensor x = projection->forward(pixel_values.to(projection->weight.options()));  // [N, D, g, g]
  return x.flatten(2).transpose(1, 2);
}

InternVLVisionEmbeddingsImpl::InternVLVisionEmbeddingsImpl(const InternVLVisionConfig& c) {
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, c.hidden_size}));
  patch_embeddings = register_module("patch_embeddings", InternVLVisionPatchEmbeddings(c));
  if (c.use_absolute_position_embeddings) {
    position_embeddings = register_parameter("position_embeddings", torch::zeros({1, c.grid() * c.grid() + 1, c.hidden_size}));
  }
}

torch::Tensor InternVLVisionEmbeddingsImpl::forward(const torch::Tensor& pixel_values) {
  torch::Tensor patches = patch_embeddings->forward(pixel_values);  // [N, L, D]
  torch::Tensor x = torch::cat({cls_token.expand({patches.size(0), 1, cls_token.size(2)}), patches}, 1);
  if (position_embeddings.defined()) x = x + position_embeddings;
  return x;
}

// ----- attention, MLP, layer -------------------------------------------------------------------

InternVLVisionAttentionImpl::InternVLVisionAttentionImpl(const InternVLVisionConfig& c)
    : num_heads_(c.num_attention_heads), head_dim_(c.hidden_size / c.num_attention_heads) {
  using torch::nn::LinearOptions;
  const int64_t d = c.hidden_size;
  q_proj = register_module("q_proj", torch::nn::Linear(LinearOptions(d, d).bias(c.attention_bias)));
  k_proj = register_module("k_proj", torch::nn::Linear(LinearOptions(d, d).bias(c.attention_bias)));
  v_proj = register_module("v_proj", torch::nn::Linear(LinearOptions(d, d).bias(c.attention_bias)));
  projection_layer = register_module("projection_layer", torch::nn::Linear(LinearOptions(d, d).bias(true)));
  if (c.use_qk_norm) {  // HF: RMSNorm over the whole embedding, eps 1e-6
    q_norm = register_module("q_norm", InternVLVisionNorm(InternVLVisionNormOptions(d, /*rms=*/true)));
    k_norm = register_module("k_norm", InternVLVisionNorm(InternVLVisionNormOptions(d, /*rms=*/true)));
  }
}

torch::Tensor InternVLVisionAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), l = x.size(1);
  torch::Tensor q = q_proj->forward(x), k = k_proj->forward(x), v = v_proj->forward(x);
  if (q_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  auto heads = [&](const torch::Tensor& t) { return t.reshape({n, l, num_heads_, head_dim_}).transpose(1, 2); };
  torch::Tensor out = scaled_dot_product_attention(heads(q), heads(k), heads(v), torch::Tensor());
  return projection_layer->forward(out.transpose(1, 2).reshape({n, l, num_heads_ * head_dim_}));
}

InternVLVisionMLPImpl::InternVLVisionMLPImpl(const InternVLVisionConfig& c) {
  fc1 = register_module("fc1", torch::nn::Linear(c.hidden_size, c.intermediate_size));
  fc2 = register_module("fc2", torch::nn::Linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor InternVLVisionMLPImpl::forward(const torch::Tensor& x) {
  return fc2->forward(torch::gelu(fc1->forward(x)));  // "gelu": exact erf
}

InternVLVisionLayerImpl::InternVLVisionLayerImpl(const InternVLVisionConfig& c) {
  const bool rms = c.norm_type == "rms_norm";
  attention = register_module("attention", InternVLVisionAttention(c));
  mlp = register_module("mlp", InternVLVisionMLP(c));
  layernorm_before = register_module(
      "layernorm_before", InternVLVisionNorm(InternVLVisionNormOptions(c.hidden_size, rms).eps(c.layer_norm_eps)));
  layernorm_after = register_module(
      "layernorm_after", InternVLVisionNorm(InternVLVisionNormOptions(c.hidden_size, rms).eps(c.layer_norm_eps)));
  lambda_1 = register_parameter("lambda_1", torch::full({c.hidden_size}, c.layer_scale_init_value));
  lambda_2 = register_parameter("lambda_2", torch::full({c.hidden_size}, c.layer_scale_init_value));
}

torch::Tensor InternVLVisionLayerImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x + lambda_1 * attention->forward(layernorm_before->forward(x));
  return h + lambda_2 * mlp->forward(layernorm_after->forward(h));
}

InternVLVisionEncoderImpl::InternVLVisionEncoderImpl(const InternVLVisionConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layer_list.emplace_back(c);
    layer->push_back(layer_list.back());
  }
}

// ----- model -----------------------------------------------------------------------------------

InternVLVisionModelImpl::InternVLVisionModelImpl(const InternVLVisionConfig& c) : config_(c) {
  c.validate("InternVLVisionModel");
  embeddings = register_module("embeddings", InternVLVisionEmbeddings(c));
  encoder = register_module("encoder", InternVLVisionEncoder(c));
  if (!c.use_mean_pooling) {
    layernorm = register_module(
        "layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  }
}

InternVLVisionOutput InternVLVisionModelImpl::forward(const torch::Tensor& pixel_values) {
  const int64_t s = config_.image_size;
  TORCH_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == config_.num_channels && pixel_values.size(2) == s &&
                  pixel_values.size(3) == s,
              "InternViT: pixel_values must be tiles [N, ", config_.num_channels, ", ", s, ", ", s, "], got ",
              pixel_values.sizes());
  InternVLVisionOutput out;
  torch::Tensor h = embeddings->forward(pixel_values);
  out.hidden_states.push_back(h);
  for (auto& l : encoder->layer_list) {
    h = l->forward(h);
    out.hidden_states.push_back(h);
  }
  out.last_hidden_state = layernorm ? layernorm->forward(h) : h;
  return out;
}

}  // namespace ril::model
