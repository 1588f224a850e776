// Batched autoregressive generation and teacher-forced log-probabilities.
//
// Batching: prompts are LEFT-padded to a common length P (attention_mask 0 on the left), so
// every row's next token sits in the same column and one KV cache position serves all rows.
// Positions are cumsum(mask) - 1 and pads are masked out of attention, so each row computes
// what it would alone (tested: batch == each prompt alone).
//
// Log-probabilities (decision, for RL): `logprobs` is log pi(o_t | prefix) under the policy's
// own, unmodified distribution: log_softmax of the raw logits, temperature 1, no penalty, no
// top-k/top-p. That is what sequence_logprobs() returns for the same tokens, so the learner's
// ratio pi_theta / pi_old and the KL against pi_ref compare like with like. The log-prob
// under the distribution actually sampled from (after penalty, temperature, top-k, top-p) is
// returned as well (`sampling_logprobs`) for diagnostics or importance correction.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "ril/model/fused_decode.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/sampler.h"

namespace ril::model {

struct GenerationOptions {
  int64_t max_new_tokens = 64;
  SamplingOptions sampling;
  std::vector<int64_t> stop_token_ids;  // a row ends after emitting one of these (kept)
  int64_t pad_token_id = 0;             // fills tokens after a row's end
  bool use_cache = true;                // false: the uncached oracle (full forward per step)
  // With the cache: decode steps through the one-token path of fused_decode.h; false: the
  // generic cached forward (Qwen2ModelImpl::forward with T = 1), kept as a second reference.
  bool fused_decode = true;
  FusedDecodeOptions fused_decode_options;
  bool return_logits = false;           // keep the raw logits of every step (tests)
};

struct GenerationInput {
  torch::Tensor input_ids;       // [B, P] int64, left-padded
  torch::Tensor attention_mask;  // [B, P] 0/1 (undefined: all real); last column must be 1
  torch::Tensor inputs_embeds;   // optional [B, P, D]: used instead of embed(input_ids) (VLMs)
  // optional prompt positions, [3, B, P] (M-RoPE) or [B, P]; undefined: cumsum(mask) - 1.
  // Generated token n then sits at P + n + rope_delta (mrope.h).
  torch::Tensor position_ids;
};

// Which step served a generation's decode steps (after the prefill): the one-token path of
// fused_decode.h (default when FusedDecoder::supports the model: float32/bfloat16/float16, even
// head dim, whole query groups; Qwen2, LLaVA, Qwen2.5-VL and InternVL3 language models alike), the
// generic cached forward (options.fused_decode = false, or the fallback for anything the fused
// step does not support, e.g. float64), or the uncached oracle (use_cache = false).
enum class DecodePath { kFused, kGeneric, kUncached };
const char* decode_path_name(DecodePath path);  // "fused", "generic", "uncached"

struct GenerationResult {
  DecodePath decode_path = DecodePath::kGeneric;
  torch::Tensor tokens;             // [B, N] int64, N = max(lengths) <= max_new_tokens; pad after end
  torch::Tensor logprobs;           // [B, N] float32, log pi(token) unmodified (see above); 0 after end
  torch::Tensor sampling_logprobs;  // [B, N] float32, log-prob under the sampled-from distribution
  torch::Tensor lengths;            // [B] int64, generated tokens including the stop token
  torch::Tensor logits;             // [B, N, V] float32 raw logits, when return_logits
};

// Generates with `lm` (eval mode expected; runs under NoGradGuard). Randomness only from
// `rng` (sampler.h): one CPU generator (make_cpu_generator) for the batch, or one per row (B of
// them), so that each row samples what it samples alone with its generator (up to the float
// differences of a batched forward); greedy when !options.sampling.do_sample.
GenerationResult generate(Qwen2ForCausalLM& lm, const GenerationInput& input,
                          const GenerationOptions& options, SamplingGenerators rng);

struct TeacherForcedInput {
  torch::Tensor prompt_ids;      // [B, P] int64, left-padded
  torch::Tensor prompt_mask;     // [B, P] 0/1 (undefined: all real)
  torch::Tensor prompt_embeds;   // optional [B, P, D] (VLMs: image features merged)
  torch::Tensor prompt_position_ids;  // optional [3, B, P] or [B, P] (as GenerationInput)
  torch::Tensor response_ids;    // [B, R] int64, right-padded
  torch::Tensor response_mask;   // [B, R] 0/1 (undefined: all real)
};

// log pi(response_t | prompt, response_<t) for every response position, in ONE forward over
// [prompt ; response]: [B, R] float32, 0 where response_mask is 0. Differentiable (the learner
// calls it with grad enabled). Unmodified distribution, as GenerationResult::logprobs.
// `entropy` (optional): receives the detached token entropy -sum_v p log p of the same
// distribution at every response position, [B, R] float32, 0 at pads (collapse monitoring).
torch::Tensor sequence_logprobs(Qwen2ForCausalLM& lm, const TeacherForcedInput& input,
                                torch::Tensor* entropy = nullptr);

}  // namespace ril::model
