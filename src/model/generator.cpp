#include "ril/model/generator.h"

#include "ril/common/error.h"
#include "ril/model/mrope.h"

namespace ril::model {
namespace {

torch::Tensor mask_or_ones(const torch::Tensor& mask, const torch::Tensor& like) {
  if (mask.defined()) return mask.to(torch::kInt64);
  return torch::ones({like.size(0), like.size(1)},
                     torch::TensorOptions().dtype(torch::kInt64).device(like.device()));
}

// Tokens present in the real prompt (inside the vocabulary), for the repetition penalty: [B, V] bool.
torch::Tensor prompt_presence(const torch::Tensor& ids, const torch::Tensor& prompt_mask, int64_t vocab) {
  torch::Tensor presence = torch::zeros({ids.size(0), vocab}, torch::TensorOptions().dtype(torch::kBool).device(ids.device()));
  torch::Tensor valid = prompt_mask.to(torch::kBool) & ids.ge(0) & ids.lt(vocab);
  torch::Tensor safe_ids = torch::where(valid, ids, torch::zeros_like(ids));
  presence.scatter_(1, safe_ids, valid);
  // scatter_ with a bool src writes False for invalid entries that alias id 0; redo id 0.
  presence.select(1, 0).copy_((valid & ids.eq(0)).any(1));
  return presence;
}

// For each row, the first row with the same prompt: ids and mask, and (when given) embeddings and
// positions equal element for element. [B] on the CPU; row i is unique when source[i] == i.
std::vector<int64_t> first_equal_rows(const torch::Tensor& ids, const torch::Tensor& mask, const torch::Tensor& embeds,
                                      const torch::Tensor& positions) {
  const torch::Tensor id_rows = torch::cat({ids.to(torch::kInt64), mask.to(torch::kInt64)}, 1).to(torch::kCPU).contiguous();
  const int64_t b = id_rows.size(0), width = id_rows.size(1);
  const int64_t* data = id_rows.data_ptr<int64_t>();
  std::vector<int64_t> source(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    source[static_cast<size_t>(i)] = i;
    for (int64_t j = 0; j < i; ++j) {
      if (source[static_cast<size_t>(j)] != j || !std::equal(data + i * width, data + (i + 1) * width, data + j * width)) continue;
      if (embeds.defined() && !torch::equal(embeds[i], embeds[j])) continue;
      if (positions.defined() && !torch::equal(positions.select(-2, i), positions.select(-2, j))) continue;
      source[static_cast<size_t>(i)] = j;
      break;
    }
  }
  return source;
}

// The decoder side of one generation: the KV-cache path, or the uncached oracle (a full forward
// over the prompt and everything generated so far, every step); positions from the mask, or
// explicit prompt positions (M-RoPE) continued by rope_delta.
class DecodeState {
 public:
  DecodeState(Qwen2ForCausalLM& lm, const GenerationInput& input, const torch::Tensor& embeds,
              const torch::Tensor& prompt_mask, int64_t n_max, bool use_cache)
      : lm_(lm),
        input_ids_(input.input_ids),
        embeds_given_(input.inputs_embeds.defined()),
        prompt_pos_(input.position_ids),
        all_pos_(input.position_ids),
        all_embeds_(embeds) {
    const int64_t b = embeds.size(0), p = embeds.size(1);
    auto iopts = torch::TensorOptions().dtype(torch::kInt64).device(embeds.device());
    mask_ = torch::ones({b, p + n_max}, iopts);  // prompt mask, then 1 for every generated column
    mask_.narrow(1, 0, p).copy_(prompt_mask);
    if (prompt_pos_.defined()) {
      TORCH_CHECK(prompt_pos_.size(-1) == p && prompt_pos_.size(-2) == b, "generate: position_ids ",
                  prompt_pos_.sizes(), " do not match the prompt [", b, ", ", p, "]");
      deltas_ = rope_deltas_from_positions(prompt_pos_, prompt_mask);
    }
    if (use_cache) {
      const Qwen2Config& c = lm->config();
      KVCacheOptions co;
      co.num_layers = c.num_hidden_layers;
      co.batch_size = b;
      co.num_kv_heads = c.num_key_value_heads;
      co.head_dim = c.resolved_head_dim();
      co.capacity = p + n_max;
      co.tensor_options = torch::TensorOptions().dtype(embeds.scalar_type()).device(embeds.device());
      cache_ = std::make_unique<KVCache>(co);
      cache_options_ = co;
    }
    prompt_len_ = p;
  }

  // Decode steps go through the one-token path (fused_decode.h) when it serves this model; it is
  // set up at the first step (a one-token generation never needs it). Generated token n sits
  // at first_positions + n: the real prompt tokens with positions from the mask, P + rope_delta
  // with explicit (M-RoPE) prompt positions.
  void use_fused_decode(const torch::Tensor& prompt_mask, int64_t n_max, const FusedDecodeOptions& options) {
    fused_wanted_ = cache_ && FusedDecoder::supports(lm_, all_embeds_);
    fused_prompt_mask_ = prompt_mask;
    fused_n_max_ = n_max;
    fused_options_ = options;
  }

  DecodePath path() const {
    if (!cache_) return DecodePath::kUncached;
    return fused_wanted_ ? DecodePath::kFused : DecodePath::kGeneric;
  }

  // Last-position logits [B, V] float32 after the prompt. With the cache, rows that repeat an
  // earlier row's prompt (a question's samples in ril teach, a rollout group) are prefilled once:
  // the U distinct rows go through the forward with a cache of U rows, whose keys and values are
  // then copied to every row that shares them.
  torch::Tensor prefill() {
    const torch::Tensor mask = mask_.narrow(1, 0, prompt_len_);
    const std::vector<int64_t> source =
        cache_ ? first_equal_rows(input_ids_, mask, embeds_given_ ? all_embeds_ : torch::Tensor(), prompt_pos_)
               : std::vector<int64_t>();
    std::vector<int64_t> unique, slot;  // slot[i]: row i's index among the distinct rows
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == static_cast<int64_t>(i)) unique.push_back(static_cast<int64_t>(i));
      slot.push_back(source[i] == static_cast<int64_t>(i) ? static_cast<int64_t>(unique.size()) - 1
                                                          : slot[static_cast<size_t>(source[i])]);
    }
    if (unique.size() == source.size()) {
      return last_logits(lm_->model->forward(all_embeds_, mask, prompt_pos_, cache_.get()));
    }
    const auto device = all_embeds_.device();
    const torch::Tensor pick = torch::tensor(unique, torch::kInt64).to(device);  // [U]
    const torch::Tensor spread = torch::tensor(slot, torch::kInt64).to(device);  // [B]
    KVCacheOptions co = cache_options_;
    co.batch_size = static_cast<int64_t>(unique.size());
    co.capacity = prompt_len_;
    KVCache distinct(co);
    const torch::Tensor pos = prompt_pos_.defined() ? prompt_pos_.index_select(-2, pick) : torch::Tensor();
    const torch::Tensor hidden =
        lm_->model->forward(all_embeds_.index_select(0, pick), mask.index_select(0, pick), pos, &distinct);
    for (int64_t layer = 0; layer < co.num_layers; ++layer) {
      cache_->layer_keys(layer).narrow(2, 0, prompt_len_).copy_(distinct.layer_keys(layer).index_select(0, spread));
      cache_->layer_values(layer).narrow(2, 0, prompt_len_).copy_(distinct.layer_values(layer).index_select(0, spread));
    }
    cache_->advance(prompt_len_);
    return last_logits(hidden).index_select(0, spread);
  }

  // Feeds generated token n (0-based) [B]; returns the logits that follow it.
  torch::Tensor step(const torch::Tensor& next, int64_t n) {
    if (fused_wanted_ && !fused_) {
      const torch::Tensor first = prompt_pos_.defined() ? deltas_ + prompt_len_
                                                        : fused_prompt_mask_.to(torch::kInt64).sum(1);
      fused_ = std::make_unique<FusedDecoder>(lm_, *cache_, fused_prompt_mask_, first, fused_n_max_, fused_options_);
    }
    if (fused_) return fused_->step(next, n);
    torch::Tensor embeds = lm_->embed(next.unsqueeze(1));  // [B, 1, D]
    torch::Tensor pos = prompt_pos_.defined() ? positions_after_prompt(prompt_pos_, deltas_, n, 1) : torch::Tensor();
    const torch::Tensor mask = mask_.narrow(1, 0, prompt_len_ + n + 1);
    if (cache_) return last_logits(lm_->model->forward(embeds, mask, pos, cache_.get()));
    all_embeds_ = torch::cat({all_embeds_, embeds}, 1);
    if (all_pos_.defined()) all_pos_ = torch::cat({all_pos_, pos}, -1);
    return last_logits(lm_->model->forward(all_embeds_, mask, all_pos_));
  }

 private:
  torch::Tensor last_logits(const torch::Tensor& hidden) {
    return lm_->logits(hidden.select(1, hidden.size(1) - 1)).to(torch::kFloat32);
  }

  Qwen2ForCausalLM& lm_;
  torch::Tensor input_ids_;
  bool embeds_given_ = false;  // embeddings not from the ids alone (VLMs): compared too
  torch::Tensor prompt_pos_, deltas_, all_pos_, all_embeds_, mask_;
  std::unique_ptr<KVCache> cache_;
  KVCacheOptions cache_options_;
  std::unique_ptr<FusedDecoder> fused_;
  bool fused_wanted_ = false;
  torch::Tensor fused_prompt_mask_;
  int64_t fused_n_max_ = 0;
  FusedDecodeOptions fused_options_;
  int64_t prompt_len_ = 0;
};

}  // namespace

const char* decode_path_name(DecodePath path) {
  switch (path) {
    case DecodePath::kFused:
      return "fused";
    case DecodePath::kGeneric:
      return "generic";
    case DecodePath::kUncached:
      return "uncached";
  }
  return "?";
}

GenerationResult generate(Qwen2ForCausalLM& lm, const GenerationInput& input,
                          const GenerationOptions& options, SamplingGenerators rng) {
  torch::NoGradGuard no_grad;
  options.sampling.validate();
  RIL_CONFIG_CHECK(options.max_new_tokens > 0, "generate: max_new_tokens must be > 0, got ",
                   options.max_new_tokens);
  const torch::Tensor& ids = input.input_ids;
  TORCH_CHECK(ids.defined() && ids.dim() == 2 && ids.scalar_type() == torch::kInt64,
              "generate: input_ids must be [B, P] int64, got ",
              ids.defined() ? ids.sizes() : torch::IntArrayRef{});
  const int64_t b = ids.size(0), p = ids.size(1), n_max = options.max_new_tokens;
  const auto device = ids.device();
  const int64_t vocab = lm->config().vocab_size;
  torch::Tensor prompt_mask = mask_or_ones(input.attention_mask, ids).to(device);
  TORCH_CHECK(prompt_mask.sizes() == ids.sizes(), "generate: attention_mask ", prompt_mask.sizes(),
              " != input_ids ", ids.sizes());
  TORCH_CHECK(prompt_mask.select(1, p - 1).all().item<bool>(),
              "generate: prompts must be left-padded (the last column of attention_mask must be 1)");
  torch::Tensor embeds = input.inputs_embeds.defined() ? input.inputs_embeds : lm->embed(ids);
  TORCH_CHECK(embeds.dim() == 3 && embeds.size(0) == b && embeds.size(1) == p,
              "generate: inputs_embeds must be [", b, ", ", p, ", D], got ", embeds.sizes());

  Sampler sampler(options.sampling, std::move(rng));
  auto iopts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  auto fopts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  torch::Tensor presence;  // tokens present so far, for the repetition penalty
  if (options.sampling.repetition_penalty != 1.0) presence = prompt_presence(ids, prompt_mask, vocab);
  torch::Tensor stop_ids = torch::tensor(options.stop_token_ids, torch::TensorOptions().dtype(torch::kInt64)).to(device);
  torch::Tensor tokens = torch::full({b, n_max}, options.pad_token_id, iopts);
  torch::Tensor logprobs = torch::zeros({b, n_max}, fopts);
  torch::Tensor sampling_logprobs = torch::zeros({b, n_max}, fopts);
  torch::Tensor lengths = torch::zeros({b}, iopts);
  torch::Tensor finished = torch::zeros({b}, torch::TensorOptions().dtype(torch::kBool).device(device));
  std::vector<torch::Tensor> step_logits;

  DecodeState state(lm, input, embeds, prompt_mask, n_max, options.use_cache);
  torch::Tensor logits = state.prefill();  // [B, V]
  if (options.use_cache && options.fused_decode) state.use_fused_decode(prompt_mask, n_max, options.fused_decode_options);
  // Without stop tokens no row ends early: the masking below is skipped (it would change nothing).
  const bool has_stops = stop_ids.numel() > 0;
  int64_t n = 0;
  for (; n < n_max; ++n) {
    if (options.return_logits) step_logits.push_back(logits);
    torch::Tensor processed = process_logits(logits, presence, options.sampling);
    torch::Tensor next = sampler.select(processed);  // [B]
    if (has_stops) next = torch::where(finished, torch::full_like(next, options.pad_token_id), next);
    // log p(next) = logit(next) - logsumexp(logits): no [B, V] log-softmax temporary
    torch::Tensor lp = logits.gather(1, next.unsqueeze(1)).squeeze(1) - logits.logsumexp(-1);
    // Greedy without a penalty samples from the logits themselves: the same log-prob.
    torch::Tensor slp = processed.is_same(logits)
                            ? lp
                            : processed.gather(1, next.unsqueeze(1)).squeeze(1) - processed.logsumexp(-1);
    tokens.select(1, n).copy_(next);
    torch::Tensor alive;
    if (has_stops) {
      alive = finished.logical_not();
      logprobs.select(1, n).copy_(torch::where(alive, lp, torch::zeros_like(lp)));
      sampling_logprobs.select(1, n).copy_(torch::where(alive, slp, torch::zeros_like(slp)));
      lengths += alive.to(torch::kInt64);
    } else {
      logprobs.select(1, n).copy_(lp);
      sampling_logprobs.select(1, n).copy_(slp);
    }
    if (presence.defined()) {
      const torch::Tensor ids = next.clamp(0, vocab - 1).unsqueeze(1);
      presence.scatter_(1, ids, has_stops ? alive.unsqueeze(1) | presence.gather(1, ids)
                                          : torch::ones_like(ids, ids.options().dtype(torch::kBool)));
    }
    if (has_stops) finished = finished | (alive & torch::isin(next, stop_ids));
    if (n + 1 == n_max || (has_stops && finished.all().item<bool>())) {
      ++n;
      break;
    }
    logits = state.step(next, n);
  }
  if (!has_stops) lengths.fill_(n);

  GenerationResult result;
  result.decode_path = state.path();
  result.tokens = tokens.narrow(1, 0, n);
  result.logprobs = logprobs.narrow(1, 0, n);
  result.sampling_logprobs = sampling_logprobs.narrow(1, 0, n);
  result.lengths = lengths;
  if (options.return_logits) result.logits = torch::stack(step_logits, 1);
  return result;
}

torch::Tensor sequence_logprobs(Qwen2ForCausalLM& lm, const TeacherForcedInput& input, torch::Tensor* entropy) {
  const torch::Tensor& pids = input.prompt_ids;
  const torch::Tensor& rids = input.response_ids;
  TORCH_CHECK(pids.defined() && pids.dim() == 2 && rids.defined() && rids.dim() == 2 &&
                  pids.size(0) == rids.size(0),
              "sequence_logprobs: prompt_ids [B, P] and response_ids [B, R] must share B, got ",
              pids.sizes(), " and ", rids.sizes());
  const int64_t p = pids.size(1), r = rids.size(1);
  TORCH_CHECK(p >= 1 && r >= 1, "sequence_logprobs: need P >= 1 and R >= 1");
  torch::Tensor pmask = mask_or_ones(input.prompt_mask, pids).to(pids.device());
  torch::Tensor rmask = mask_or_ones(input.response_mask, rids).to(pids.device());
  TORCH_CHECK(pmask.sizes() == pids.sizes() && rmask.sizes() == rids.sizes(),
              "sequence_logprobs: mask shapes ", pmask.sizes(), ", ", rmask.sizes(),
              " do not match ids ", pids.sizes(), ", ", rids.sizes());
  TORCH_CHECK(pmask.select(1, p - 1).all().item<bool>(),
              "sequence_logprobs: prompts must be left-padded (last prompt column all 1)");
  torch::Tensor pembeds = input.prompt_embeds.defined() ? input.prompt_embeds : lm->embed(pids);
  torch::Tensor embeds = torch::cat({pembeds, lm->embed(rids)}, 1);  // [B, P + R, D]
  torch::Tensor mask = torch::cat({pmask, rmask}, 1);                 // [B, P + R]
  torch::Tensor positions;                                            // undefined: from the mask
  if (input.prompt_position_ids.defined()) {
    const torch::Tensor& pp = input.prompt_position_ids;
    TORCH_CHECK(pp.size(-1) == p && pp.size(-2) == pids.size(0), "sequence_logprobs: prompt_position_ids ",
                pp.sizes(), " do not match prompt_ids ", pids.sizes());
    positions = torch::cat({pp, positions_after_prompt(pp, rope_deltas_from_positions(pp, pmask), 0, r)}, -1);
  }
  torch::Tensor hidden = lm->model->forward(embeds, mask, positions);  // [B, P + R, D]
  // The state at position P - 1 + t predicts response token t: hidden [B, R, D] -> logits.
  torch::Tensor logits = lm->logits(hidden.narrow(1, p - 1, r)).to(torch::kFloat32);  // [B, R, V]
  const torch::Tensor log_probs = logits.log_softmax(-1);                              // [B, R, V]
  torch::Tensor lp = log_probs.gather(2, rids.unsqueeze(2)).squeeze(2);                // [B, R]
  if (entropy != nullptr) {
    torch::NoGradGuard no_grad;
    const torch::Tensor l = log_probs.detach();
    *entropy = -(l.exp() * l).sum(-1) * rmask.to(l.scalar_type());
  }
  return lp * rmask.to(lp.scalar_type());
}

}  // namespace ril::model
