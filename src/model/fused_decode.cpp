#include "ril/model/fused_decode.h"

#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include "ril/common/error.h"
#include "ril/model/decode_kernels.h"

namespace ril::model {

// What one layer's step reads: views of the live parameters (made per generation, so that a
// parameter given new storage by .to() is seen) and the fused copies of the cache.
struct FusedLayerWeights {
  torch::Tensor ln1, ln2;                      // [D]
  torch::Tensor qkv_t, qkv_b;                  // fused: [D, (H + 2 Hkv) Dh] (view of a [N, D] copy), [N]
  torch::Tensor q_t, k_t, v_t, q_b, k_b, v_b;  // separate: transposed views of the parameters
  torch::Tensor o_t;                           // [H Dh, D]
  torch::Tensor gate_up_t;                     // fused: [D, 2 I]
  torch::Tensor gate_t, up_t;                  // separate
  torch::Tensor down_t;                        // [I, D]
};

// The fused copies of a model (Qwen2ForCausalLMImpl::fused_weight_cache): buffers kept between
// generations (no fresh allocation, hence no page faults, per call) and refilled from the live
// parameters at the start of every generation.
struct FusedWeightCache {
  struct Layer {
    torch::Tensor qkv_w, qkv_b, gate_up_w;  // [N, D], [N], [2 I, D]
  };
  std::vector<Layer> layers;
};

namespace {

Qwen2DecoderLayerImpl& layer_at(Qwen2ForCausalLM& lm, int64_t i) {
  return *lm->model->layers->ptr<Qwen2DecoderLayerImpl>(static_cast<size_t>(i));
}

// The parameters the fused copies are made of, per layer: q, k, v weights and biases, gate, up.
constexpr size_t kSourcesPerLayer = 8;
std::vector<torch::Tensor> fused_sources(Qwen2ForCausalLM& lm) {
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < lm->config().num_hidden_layers; ++i) {
    Qwen2DecoderLayerImpl& layer = layer_at(lm, i);
    const Qwen2AttentionImpl& a = *layer.self_attn;
    const Qwen2MLPImpl& m = *layer.mlp;
    for (const torch::Tensor& t : {a.q_proj->weight, a.k_proj->weight, a.v_proj->weight, a.q_proj->bias,
                                   a.k_proj->bias, a.v_proj->bias, m.gate_proj->weight, m.up_proj->weight}) {
      out.push_back(t);
    }
  }
  return out;
}

// Copies `parts` one after another along dimension 0 of `dst`.
void fill_rows(torch::Tensor& dst, std::initializer_list<const torch::Tensor*> parts) {
  int64_t row = 0;
  for (const torch::Tensor* p : parts) {
    dst.narrow(0, row, p->size(0)).copy_(*p);
    row += p->size(0);
  }
}

// Fills the model's fused copies from `params` (fused_sources order), reallocating them only when
// a shape, dtype or device changed. The copies hold whatever the parameters hold now, however
// they were written (optimizer, weight sync, load, raw pointers, inside or outside InferenceMode).
std::shared_ptr<FusedWeightCache> refresh_cache(std::shared_ptr<FusedWeightCache> cache,
                                                const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  c10::InferenceMode normal_tensors(false);  // buffers that later calls may write in any mode
  const size_t layers = params.size() / kSourcesPerLayer;
  if (!cache || cache->layers.size() != layers) {
    cache = std::make_shared<FusedWeightCache>();
    cache->layers.resize(layers);
  }
  auto ensure = [](torch::Tensor& t, int64_t rows, const torch::Tensor& like) {
    std::vector<int64_t> shape = like.sizes().vec();
    shape[0] = rows;
    if (!t.defined() || t.sizes() != torch::IntArrayRef(shape) || t.scalar_type() != like.scalar_type() ||
        t.device() != like.device()) {
      t = torch::empty(shape, like.options().requires_grad(false));
    }
  };
  for (size_t l = 0; l < layers; ++l) {
    const torch::Tensor* p = &params[l * kSourcesPerLayer];
    FusedWeightCache::Layer& c = cache->layers[l];
    ensure(c.qkv_w, p[0].size(0) + p[1].size(0) + p[2].size(0), p[0]);
    ensure(c.qkv_b, p[3].size(0) + p[4].size(0) + p[5].size(0), p[3]);
    ensure(c.gate_up_w, p[6].size(0) + p[7].size(0), p[6]);
    fill_rows(c.qkv_w, {&p[0], &p[1], &p[2]});
    fill_rows(c.qkv_b, {&p[3], &p[4], &p[5]});
    fill_rows(c.gate_up_w, {&p[6], &p[7]});
  }
  return cache;
}

}  // namespace

bool FusedDecoder::supports(const Qwen2ForCausalLM& lm, const torch::Tensor& like) {
  const auto dtype = like.scalar_type();
  const Qwen2Config& c = lm->config();
  return like.layout() == torch::kStrided &&
         (dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kFloat16) &&
         c.resolved_head_dim() % 2 == 0 && c.num_attention_heads % c.num_key_value_heads == 0;
}

FusedDecoder::FusedDecoder(Qwen2ForCausalLM& lm, KVCache& cache, const torch::Tensor& prompt_mask,
                           const torch::Tensor& first_positions, int64_t max_new_tokens,
                           const FusedDecodeOptions& options)
    : config_(lm->config()), cache_(cache), options_(options) {
  torch::NoGradGuard no_grad;
  const Qwen2Config& c = config_;
  const torch::Tensor& embed = lm->model->embed_tokens->weight;
  const int64_t b = prompt_mask.size(0);
  TORCH_CHECK(supports(lm, embed), "FusedDecoder: unsupported model dtype ", embed.scalar_type());
  TORCH_CHECK(prompt_mask.dim() == 2 && cache.batch_size() == b && cache.length() == prompt_mask.size(1),
              "FusedDecoder: prompt_mask ", prompt_mask.sizes(), " must be [B, P] for a cache of batch ",
              cache.batch_size(), " holding P = ", cache.length(), " positions");
  TORCH_CHECK(first_positions.dim() == 1 && first_positions.size(0) == b, "FusedDecoder: first_positions must be [",
              b, "], got ", first_positions.sizes());
  kernels_ = options.cpu_kernels && embed.device().is_cpu();

  // Weights: fused copies when small enough, refilled from the parameters for this generation.
  const std::vector<torch::Tensor> sources = fused_sources(lm);
  int64_t fused_bytes = 0;
  for (const torch::Tensor& t : sources) fused_bytes += t.numel() * static_cast<int64_t>(t.element_size());
  fused_ = fused_bytes <= options.max_fused_weight_bytes;
  std::shared_ptr<FusedWeightCache> copies;
  if (fused_) {
    lm->fused_weight_cache = refresh_cache(std::move(lm->fused_weight_cache), sources);
    copies = lm->fused_weight_cache;
  } else {
    lm->fused_weight_cache.reset();
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    Qwen2DecoderLayerImpl& layer = layer_at(lm, i);
    const Qwen2AttentionImpl& a = *layer.self_attn;
    const Qwen2MLPImpl& m = *layer.mlp;
    FusedLayerWeights w;
    w.ln1 = layer.input_layernorm->weight;
    w.ln2 = layer.post_attention_layernorm->weight;
    w.o_t = a.o_proj->weight.t();
    w.down_t = m.down_proj->weight.t();
    if (fused_) {
      const FusedWeightCache::Layer& f = copies->layers[static_cast<size_t>(i)];
      w.qkv_t = f.qkv_w.t();
      w.qkv_b = f.qkv_b;
      w.gate_up_t = f.gate_up_w.t();
    } else {
      w.q_t = a.q_proj->weight.t();
      w.k_t = a.k_proj->weight.t();
      w.v_t = a.v_proj->weight.t();
      w.q_b = a.q_proj->bias;
      w.k_b = a.k_proj->bias;
      w.v_b = a.v_proj->bias;
      w.gate_t = m.gate_proj->weight.t();
      w.up_t = m.up_proj->weight.t();
    }
    layers_.push_back(std::move(w));
  }
  embed_ = embed;
  head_t_ = lm->lm_head ? lm->lm_head->weight.t() : embed.t();
  final_norm_ = lm->model->norm->weight;

  // Rotary table over the positions this generation can reach, made by the generic path's own
  // rotary_for (so M-RoPE and "dynamic" configs give what forward() gives: text tokens have three
  // equal M-RoPE positions). A dynamic-NTK config stops at max_position_embeddings (step() then
  // refuses, as forward() does).
  prompt_mask_ = prompt_mask.to(torch::kInt64).contiguous();
  const torch::Tensor first = first_positions.to(torch::kInt64);
  const int64_t min_pos = first.min().item<int64_t>();
  const int64_t max_first = first.max().item<int64_t>();
  int64_t table_len = max_first - min_pos + std::max<int64_t>(max_new_tokens, 1);
  if (c.rope_type == "dynamic") table_len = std::min(table_len, c.max_position_embeddings - min_pos);
  RIL_CHECK(table_len > 0, "Qwen2Model: position ", min_pos, " reaches max_position_embeddings (",
            c.max_position_embeddings, ") of a dynamic-NTK RoPE config; rescaled frequencies are not implemented");
  const torch::Tensor positions =
      torch::arange(min_pos, min_pos + table_len, first.options()).unsqueeze(0);  // [1, L]
  auto [cos, sin] = lm->model->rotary_for(positions, 1, table_len);             // [1, L, Dh] float32
  cos_table_ = cos.squeeze(0).to(embed.scalar_type()).contiguous();
  sin_table_ = sin.squeeze(0).to(embed.scalar_type()).contiguous();
  table_rows_ = (first - min_pos).contiguous();
  max_table_row_ = max_first - min_pos;
  table_start_ = min_pos;
}

FusedDecoder::~FusedDecoder() = default;

torch::Tensor FusedDecoder::norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  return kernels_ ? rms_norm_rows(x, weight, config_.rms_norm_eps) : rms_norm_rows_aten(x, weight, config_.rms_norm_eps);
}

torch::Tensor FusedDecoder::step(const torch::Tensor& next, int64_t n) {
  const Qwen2Config& c = config_;
  TORCH_CHECK(next.dim() == 1 && next.size(0) == cache_.batch_size(), "FusedDecoder: next must be [",
              cache_.batch_size(), "], got ", next.sizes());
  RIL_CHECK(max_table_row_ + n < cos_table_.size(0), "Qwen2Model: position ", table_start_ + max_table_row_ + n,
            " reaches max_position_embeddings (",
            c.max_position_embeddings, ") of a dynamic-NTK RoPE config; rescaled frequencies are not implemented");
  const int64_t hq = c.num_attention_heads * c.resolved_head_dim();
  const int64_t hkv = c.num_key_value_heads * c.resolved_head_dim();
  const int64_t inter = c.intermediate_size;
  DecodeAttentionInput a;
  a.cos_table = cos_table_;
  a.sin_table = sin_table_;
  a.table_rows = table_rows_;
  a.step = n;
  a.past = cache_.length();
  a.prompt_mask = prompt_mask_;
  a.num_heads = c.num_attention_heads;
  a.num_kv_heads = c.num_key_value_heads;
  a.head_dim = c.resolved_head_dim();

  torch::Tensor x = at::embedding(embed_, next);  // [B, D]
  tick("embed");
  for (size_t l = 0; l < layers_.size(); ++l) {
    const FusedLayerWeights& w = layers_[l];
    torch::Tensor h = norm(x, w.ln1);
    tick("rmsnorm (2 per layer)");
    if (fused_) {
      const torch::Tensor qkv = at::addmm(w.qkv_b, h, w.qkv_t);  // [B, hq + 2 hkv]
      a.q = qkv.narrow(1, 0, hq);
      a.k = qkv.narrow(1, hq, hkv);
      a.v = qkv.narrow(1, hq + hkv, hkv);
    } else {
      a.q = at::addmm(w.q_b, h, w.q_t);
      a.k = at::addmm(w.k_b, h, w.k_t);
      a.v = at::addmm(w.v_b, h, w.v_t);
    }
    tick("q/k/v projection");
    a.key_cache = cache_.layer_keys(static_cast<int64_t>(l));
    a.value_cache = cache_.layer_values(static_cast<int64_t>(l));
    const torch::Tensor att = kernels_ ? decode_attention(a) : decode_attention_aten(a);  // [B, hq]
    tick("attention (rotary, cache write, softmax)");
    x = at::addmm(x, att, w.o_t);  // x + o_proj(att)
    tick("o_proj + residual");
    h = norm(x, w.ln2);
    tick("rmsnorm (2 per layer)");
    torch::Tensor gate, up;
    if (fused_) {
      const torch::Tensor gu = at::mm(h, w.gate_up_t);  // [B, 2 I]
      gate = gu.narrow(1, 0, inter);
      up = gu.narrow(1, inter, inter);
    } else {
      gate = at::mm(h, w.gate_t);
      up = at::mm(h, w.up_t);
    }
    tick("gate/up projection");
    torch::Tensor act = at::silu(gate);
    act.mul_(up);
    tick("silu * up");
    x = at::addmm(x, act, w.down_t);  // x + down_proj(act)
    tick("down_proj + residual");
  }
  cache_.advance(1);
  const torch::Tensor h = norm(x, final_norm_);
  tick("final norm");
  torch::Tensor logits = at::mm(h, head_t_).to(torch::kFloat32);  // [B, V]
  tick("lm_head");
  return logits;
}

void release_fused_weights(Qwen2ForCausalLM& lm) { lm->fused_weight_cache.reset(); }

}  // namespace ril::model
