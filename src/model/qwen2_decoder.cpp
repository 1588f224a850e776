#include "ril/model/qwen2_decoder.h"

#include <ATen/CPUGeneratorImpl.h>

#include "ril/common/error.h"
#include "ril/model/activation_checkpoint.h"
#include "ril/model/attention.h"
#include "ril/model/mrope.h"

namespace ril::model {

// ----- RMSNorm ---------------------------------------------------------------------------------

RMSNormImpl::RMSNormImpl(const RMSNormOptions& options_) : options(options_) { reset(); }

void RMSNormImpl::reset() {
  weight = register_parameter("weight", torch::ones({options.dim()}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const auto dtype = x.scalar_type();
  torch::Tensor h = x.to(torch::kFloat32);
  torch::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * torch::rsqrt(variance + options.eps());
  return weight * h.to(dtype);  // HF: weight * hidden.to(input_dtype)
}

// ----- Rotary ----------------------------------------------------------------------------------

std::pair<torch::Tensor, torch::Tensor> rotary_cos_sin(const torch::Tensor& position_ids,
                                                       int64_t head_dim, double theta) {
  auto fopts = torch::TensorOptions().dtype(torch::kFloat32).device(position_ids.device());
  // inv_freq [Dh/2] = 1 / theta^(2i/Dh), computed as HF does (int64 arange -> float).
  torch::Tensor inv_freq =
      1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, fopts.dtype(torch::kInt64)).to(torch::kFloat32) /
                                  static_cast<double>(head_dim));
  // freqs [B, T, Dh/2]
  torch::Tensor freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq;
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);  // [B, T, Dh]
  return {emb.cos(), emb.sin()};
}

namespace {
torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}
}  // namespace

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin) {
  // cos/sin [B, T, Dh] -> [B, 1, T, Dh] to broadcast over heads
  const torch::Tensor c = cos.unsqueeze(1);
  const torch::Tensor s = sin.unsqueeze(1);
  return x * c + rotate_half(x) * s;
}

// ----- Attention -------------------------------------------------------------------------------

Qwen2AttentionImpl::Qwen2AttentionImpl(const Qwen2Config& c)
    : num_heads_(c.num_attention_heads),
      num_kv_heads_(c.num_key_value_heads),
      head_dim_(c.resolved_head_dim()) {
  using torch::nn::LinearOptions;
  q_proj = register_module("q_proj", torch::nn::Linear(LinearOptions(c.hidden_size, num_heads_ * head_dim_).bias(true)));
  k_proj = register_module("k_proj", torch::nn::Linear(LinearOptions(c.hidden_size, num_kv_heads_ * head_dim_).bias(true)));
  v_proj = register_module("v_proj", torch::nn::Linear(LinearOptions(c.hidden_size, num_kv_heads_ * head_dim_).bias(true)));
  o_proj = register_module("o_proj", torch::nn::Linear(LinearOptions(num_heads_ * head_dim_, c.hidden_size).bias(false)));
}

torch::Tensor Qwen2AttentionImpl::forward(const torch::Tensor& x, const DecoderContext& ctx,
                                          int64_t layer_idx) {
  const int64_t b = x.size(0), t = x.size(1);
  // q [B, H, T, Dh], k/v [B, Hkv, T, Dh]
  torch::Tensor q = q_proj->forward(x).view({b, t, num_heads_, head_dim_}).transpose(1, 2);
  torch::Tensor k = k_proj->forward(x).view({b, t, num_kv_heads_, head_dim_}).transpose(1, 2);
  torch::Tensor v = v_proj->forward(x).view({b, t, num_kv_heads_, head_dim_}).transpose(1, 2);
  q = apply_rotary(q, ctx.cos, ctx.sin);
  k = apply_rotary(k, ctx.cos, ctx.sin);
  if (ctx.cache != nullptr) {
    std::tie(k, v) = ctx.cache->update(layer_idx, k, v);  // [B, Hkv, S, Dh]
  }
  torch::Tensor out = grouped_query_attention(q.contiguous(), k, v, ctx.mask);  // [B, H, T, Dh]
  out = out.transpose(1, 2).reshape({b, t, num_heads_ * head_dim_});  // [B, T, H*Dh]
  return o_proj->forward(out);
}

// ----- MLP -------------------------------------------------------------------------------------

Qwen2MLPImpl::Qwen2MLPImpl(const Qwen2Config& c) {
  using torch::nn::LinearOptions;
  gate_proj = register_module("gate_proj", torch::nn::Linear(LinearOptions(c.hidden_size, c.intermediate_size).bias(false)));
  up_proj = register_module("up_proj", torch::nn::Linear(LinearOptions(c.hidden_size, c.intermediate_size).bias(false)));
  down_proj = register_module("down_proj", torch::nn::Linear(LinearOptions(c.intermediate_size, c.hidden_size).bias(false)));
}

torch::Tensor Qwen2MLPImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

// ----- Decoder layer ---------------------------------------------------------------------------

Qwen2DecoderLayerImpl::Qwen2DecoderLayerImpl(const Qwen2Config& c, int64_t layer_idx)
    : layer_idx_(layer_idx) {
  self_attn = register_module("self_attn", Qwen2Attention(c));
  mlp = register_module("mlp", Qwen2MLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(RMSNormOptions(c.hidden_size).eps(c.rms_norm_eps)));
  post_attention_layernorm = register_module(
      "post_attention_layernorm", RMSNorm(RMSNormOptions(c.hidden_size).eps(c.rms_norm_eps)));
}

torch::Tensor Qwen2DecoderLayerImpl::forward(const torch::Tensor& x, const DecoderContext& ctx) {
  torch::Tensor h = x + self_attn->forward(input_layernorm->forward(x), ctx, layer_idx_);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

// ----- Decoder stack ---------------------------------------------------------------------------

torch::Tensor positions_from_mask(const torch::Tensor& attention_mask) {
  return (attention_mask.to(torch::kInt64).cumsum(-1) - 1).clamp_min(0);
}

Qwen2ModelImpl::Qwen2ModelImpl(const Qwen2Config& c) : config_(c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layer_list_.emplace_back(c, i);
    layers->push_back(layer_list_.back());
  }
  norm = register_module("norm", RMSNorm(RMSNormOptions(c.hidden_size).eps(c.rms_norm_eps)));
}

std::pair<torch::Tensor, torch::Tensor> Qwen2ModelImpl::rotary_for(const torch::Tensor& position_ids, int64_t b,
                                                                   int64_t t) const {
  const bool three_axes = position_ids.dim() == 3;
  TORCH_CHECK(position_ids.sizes() == torch::IntArrayRef({b, t}) ||
                  (three_axes && position_ids.sizes() == torch::IntArrayRef({3, b, t})),
              "Qwen2Model: position_ids must be [", b, ", ", t, "] (or [3, ", b, ", ", t, "] with M-RoPE), got ",
              position_ids.sizes());
  TORCH_CHECK(!three_axes || !config_.mrope_section.empty(),
              "Qwen2Model: 3-axis position_ids need a config with mrope_section");
  if (config_.rope_type == "dynamic") {
    // Dynamic NTK rescales the frequencies only past max_position_embeddings (HF); below it, it
    // is the default RoPE computed here.
    const int64_t max_pos = position_ids.max().item<int64_t>();
    RIL_CHECK(max_pos < config_.max_position_embeddings, "Qwen2Model: position ", max_pos,
              " reaches max_position_embeddings (", config_.max_position_embeddings,
              ") of a dynamic-NTK RoPE config; rescaled frequencies are not implemented");
  }
  const int64_t dh = config_.resolved_head_dim();
  if (config_.mrope_section.empty()) return rotary_cos_sin(position_ids, dh, config_.rope_theta);
  // M-RoPE: text-only positions [B, T] are the same on the three axes.
  const torch::Tensor pos3 = three_axes ? position_ids : position_ids.unsqueeze(0).expand({3, b, t});
  return mrope_cos_sin(pos3, dh, config_.rope_theta, config_.mrope_section);
}

torch::Tensor Qwen2ModelImpl::forward(const torch::Tensor& inputs_embeds,
                                      torch::Tensor attention_mask, torch::Tensor position_ids,
                                      KVCache* cache) {
  TORCH_CHECK(inputs_embeds.dim() == 3 && inputs_embeds.size(2) == config_.hidden_size,
              "Qwen2Model: inputs_embeds must be [B, T, ", config_.hidden_size, "], got ",
              inputs_embeds.sizes());
  const int64_t b = inputs_embeds.size(0), t = inputs_embeds.size(1);
  const int64_t past = cache != nullptr ? cache->length() : 0;
  const int64_t s = past + t;
  const auto device = inputs_embeds.device();
  if (!attention_mask.defined()) {
    attention_mask = torch::ones({b, s}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  }
  TORCH_CHECK(attention_mask.dim() == 2 && attention_mask.size(0) == b && attention_mask.size(1) == s,
              "Qwen2Model: attention_mask must be [", b, ", ", s, "] (cached ", past, " + new ", t,
              "), got ", attention_mask.sizes());
  if (cache != nullptr) {
    TORCH_CHECK(cache->batch_size() == b, "Qwen2Model: cache batch ", cache->batch_size(),
                " != input batch ", b);
  }
  if (!position_ids.defined()) {
    position_ids = positions_from_mask(attention_mask).narrow(1, past, t);
  }
  DecoderContext ctx;
  auto [cos, sin] = rotary_for(position_ids, b, t);
  ctx.cos = cos.to(inputs_embeds.scalar_type());
  ctx.sin = sin.to(inputs_embeds.scalar_type());
  // mask [B, 1, T, S]: key j visible to query i (absolute past + i) when j <= past + i and j is
  // a real token; a query always sees itself so that pad rows stay finite.
  auto iopts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  torch::Tensor qpos = torch::arange(past, s, iopts).view({1, 1, t, 1});
  torch::Tensor kpos = torch::arange(0, s, iopts).view({1, 1, 1, s});
  torch::Tensor key_real = attention_mask.to(torch::kBool).view({b, 1, 1, s});
  ctx.mask = (kpos.le(qpos) & key_real) | kpos.eq(qpos);
  ctx.cache = cache;

  torch::Tensor h = inputs_embeds;
  for (auto& layer : layer_list_) {
    if (checkpoint_activations_ && cache == nullptr) {  // checkpointed() falls back to this without grad
      h = checkpointed([layer, ctx](const torch::Tensor& x) mutable { return layer->forward(x, ctx); }, h);
    } else {
      h = layer->forward(h, ctx);
    }
  }
  if (cache != nullptr) cache->advance(t);
  return norm->forward(h);
}

// ----- Causal LM -------------------------------------------------------------------------------

Qwen2ForCausalLMImpl::Qwen2ForCausalLMImpl(const Qwen2Config& c) : config_(c) {
  c.validate("Qwen2ForCausalLM");
  model = register_module("model", Qwen2Model(c));
  if (!c.tie_word_embeddings) {
    lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.vocab_size).bias(false)));
  }
}

torch::Tensor Qwen2ForCausalLMImpl::embed(const torch::Tensor& input_ids) {
  return model->embed_tokens->forward(input_ids);
}

torch::Tensor Qwen2ForCausalLMImpl::logits(const torch::Tensor& hidden) {
  if (lm_head) return lm_head->forward(hidden);
  return torch::matmul(hidden, model->embed_tokens->weight.t());
}

torch::Tensor Qwen2ForCausalLMImpl::forward(const torch::Tensor& input_ids,
                                            const torch::Tensor& attention_mask) {
  TORCH_CHECK(input_ids.dim() == 2, "Qwen2ForCausalLM: input_ids must be [B, T], got ",
              input_ids.sizes());
  return logits(model->forward(embed(input_ids), attention_mask));
}

void Qwen2ForCausalLMImpl::init_weights(uint64_t seed) {
  init_parameters(*this, config_.initializer_range, seed);
}

void init_parameters(torch::nn::Module& module, double std, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& p : module.named_parameters(/*recurse=*/true)) {
    const std::string& name = p.key();
    torch::Tensor& t = p.value();
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    const bool is_norm = name.find("norm") != std::string::npos;
    if (is_bias) {
      t.zero_();
    } else if (is_norm) {
      t.fill_(1.0);
    } else {
      // Draw on the CPU with the seeded generator, then copy (device-independent values).
      torch::Tensor cpu = torch::empty(t.sizes(), torch::TensorOptions().dtype(torch::kFloat32));
      cpu.normal_(0.0, std, gen);
      t.copy_(cpu);
    }
  }
}

}  // namespace ril::model
