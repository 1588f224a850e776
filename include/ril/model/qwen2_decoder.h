// Qwen2 decoder, weight-compatible with HF Qwen2ForCausalLM. Submodules are registered under
// HF names, so named_parameters() are the HF state-dict names:
//   model.embed_tokens.weight
//   model.layers.N.input_layernorm.weight
//   model.layers.N.self_attn.{q,k,v}_proj.{weight,bias}, model.layers.N.self_attn.o_proj.weight
//   model.layers.N.post_attention_layernorm.weight
//   model.layers.N.mlp.{gate,up,down}_proj.weight
//   model.norm.weight
//   lm_head.weight            (absent when tie_word_embeddings: logits use embed_tokens.weight,
//                              as HF's saved safetensors omit the tied copy)
// Math (HF): RMSNorm in float32 then cast back; RoPE with rotate_half (first/second halves);
// grouped-query attention (repeat_kv); SwiGLU MLP down(silu(gate(x)) * up(x)).
//
// Padding: callers pass attention_mask [B, S] (1 = real token, 0 = pad), S = cached + new
// tokens. Positions default to cumsum(mask) - 1 (HF generate's rule), so a left-padded row
// computes exactly what the same row alone would. Pad queries attend to themselves only
// (finite garbage, never read).
#pragma once

#include <torch/torch.h>

#include "ril/model/kv_cache.h"
#include "ril/model/model_config.h"

namespace ril::model {

// ----- RMSNorm ---------------------------------------------------------------------------------
struct RMSNormOptions {
  explicit RMSNormOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, eps) = 1e-6;
};

class RMSNormImpl : public torch::nn::Cloneable<RMSNormImpl> {
 public:
  explicit RMSNormImpl(const RMSNormOptions& options);
  void reset() override;
  // x [..., dim] -> [..., dim] in x's dtype; statistics in float32.
  torch::Tensor forward(const torch::Tensor& x);
  RMSNormOptions options;
  torch::Tensor weight;  // [dim]
};
TORCH_MODULE(RMSNorm);

// ----- Rotary position embedding ---------------------------------------------------------------
// cos, sin [B, T, Dh] (float32) for position_ids [B, T]; HF layout: cat(freqs, freqs).
std::pair<torch::Tensor, torch::Tensor> rotary_cos_sin(const torch::Tensor& position_ids,
                                                       int64_t head_dim, double theta);
// x [B, H, T, Dh], cos/sin [B, T, Dh] -> x * cos + rotate_half(x) * sin, in x's dtype.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin);

// What every layer of one forward shares.
struct DecoderContext {
  torch::Tensor cos;        // [B, T, Dh] in the compute dtype
  torch::Tensor sin;        // [B, T, Dh]
  torch::Tensor mask;       // [B, 1, T, S] bool, true = may attend
  KVCache* cache = nullptr; // null: no cache (S == T)
};

// ----- Attention -------------------------------------------------------------------------------
class Qwen2AttentionImpl : public torch::nn::Module {
 public:
  explicit Qwen2AttentionImpl(const Qwen2Config& config);
  // x [B, T, D] -> [B, T, D]
  torch::Tensor forward(const torch::Tensor& x, const DecoderContext& ctx, int64_t layer_idx);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
};
TORCH_MODULE(Qwen2Attention);

// ----- MLP -------------------------------------------------------------------------------------
class Qwen2MLPImpl : public torch::nn::Module {
 public:
  explicit Qwen2MLPImpl(const Qwen2Config& config);
  // x [B, T, D] -> down(silu(gate(x)) * up(x)) [B, T, D]
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Qwen2MLP);

// ----- Decoder layer ---------------------------------------------------------------------------
class Qwen2DecoderLayerImpl : public torch::nn::Module {
 public:
  Qwen2DecoderLayerImpl(const Qwen2Config& config, int64_t layer_idx);
  // x [B, T, D] -> [B, T, D] (pre-norm residual blocks)
  torch::Tensor forward(const torch::Tensor& x, const DecoderContext& ctx);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Qwen2Attention self_attn{nullptr};
  Qwen2MLP mlp{nullptr};

 private:
  int64_t layer_idx_;
};
TORCH_MODULE(Qwen2DecoderLayer);

// ----- Decoder stack (HF Qwen2Model) -----------------------------------------------------------
class Qwen2ModelImpl : public torch::nn::Module {
 public:
  explicit Qwen2ModelImpl(const Qwen2Config& config);
  // inputs_embeds [B, T, D]; attention_mask [B, S] (S = cache length + T; undefined = all
  // real); position_ids [B, T], or [3, B, T] for M-RoPE (undefined = cumsum(mask) - 1 for the
  // last T columns); cache: null or a KVCache holding S - T positions, advanced by T on return.
  // Returns the final-normed hidden states [B, T, D]. A "dynamic" RoPE config refuses positions
  // >= max_position_embeddings (ril::Error).
  torch::Tensor forward(const torch::Tensor& inputs_embeds, torch::Tensor attention_mask = {},
                        torch::Tensor position_ids = {}, KVCache* cache = nullptr);
  const Qwen2Config& config() const { return config_; }
  // --checkpoint-activations: with grad on and no KV cache, each layer runs through
  // model::checkpointed (activation_checkpoint.h): its activations are recomputed in backward
  // instead of kept. A run-time switch, not part of the config (never saved).
  void set_checkpoint_activations(bool on) { checkpoint_activations_ = on; }
  bool checkpoint_activations() const { return checkpoint_activations_; }
  // cos, sin [B, T, Dh] (float32) for position_ids [B, T] or [3, B, T] (M-RoPE).
  std::pair<torch::Tensor, torch::Tensor> rotary_for(const torch::Tensor& position_ids, int64_t b, int64_t t) const;

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};

 private:
  Qwen2Config config_;
  std::vector<Qwen2DecoderLayer> layer_list_;
  bool checkpoint_activations_ = false;
};
TORCH_MODULE(Qwen2Model);

// Positions from a 0/1 mask [B, S]: cumsum - 1, pads clamped to 0. Returns [B, S] int64.
torch::Tensor positions_from_mask(const torch::Tensor& attention_mask);

// ----- Causal LM (HF Qwen2ForCausalLM) ---------------------------------------------------------
struct FusedWeightCache;  // fused_decode.cpp

class Qwen2ForCausalLMImpl : public torch::nn::Module {
 public:
  explicit Qwen2ForCausalLMImpl(const Qwen2Config& config);
  // input_ids [B, T] int64 -> embeddings [B, T, D]
  torch::Tensor embed(const torch::Tensor& input_ids);
  // hidden [..., D] -> logits [..., V] (lm_head, or embed_tokens.weight when tied)
  torch::Tensor logits(const torch::Tensor& hidden);
  // Uncached full forward: input_ids [B, T], attention_mask [B, T] or undefined -> [B, T, V].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});
  // HF-style init: Linear/Embedding weights ~ N(0, initializer_range), biases 0, norms 1.
  void init_weights(uint64_t seed);
  const Qwen2Config& config() const { return config_; }

  Qwen2Model model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tied
  // Buffers for the fused q/k/v and gate/up weight copies of the one-token decode step
  // (fused_decode.h), refilled from the parameters by every generation. Not a parameter or
  // buffer: state dicts, optimizers, checkpoints and weight syncs never see it.
  std::shared_ptr<FusedWeightCache> fused_weight_cache;

 private:
  Qwen2Config config_;
};
TORCH_MODULE(Qwen2ForCausalLM);

// Parameters (HF-style init) with a generator: weights named "*norm*.weight" -> 1, "*.bias" ->
// 0, other tensors ~ N(0, std). Used by every model here; deterministic in `seed`.
void init_parameters(torch::nn::Module& module, double std, uint64_t seed);

}  // namespace ril::model
