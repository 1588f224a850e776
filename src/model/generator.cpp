#include "ril/model/generator.h"

#include "ril/common/error.h"

namespace ril::model {
namespace {

torch::Tensor mask_or_ones(const torch::Tensor& mask, const torch::Tensor& like) {
  if (mask.defined()) return mask.to(torch::kInt64);
  return torch::ones({like.size(0), like.size(1)},
                     torch::TensorOptions().dtype(torch::kInt64).device(like.device()));
}

}  // namespace

GenerationResult generate(Qwen2ForCausalLM& lm, const GenerationInput& input,
                          const GenerationOptions& options, at::Generator rng) {
  torch::NoGradGuard no_grad;
  options.sampling.validate();
  RIL_CONFIG_CHECK(options.max_new_tokens > 0, "generate: max_new_tokens must be > 0, got ",
                   options.max_new_tokens);
  const torch::Tensor& ids = input.input_ids;
  TORCH_CHECK(ids.defined() && ids.dim() == 2 && ids.scalar_type() == torch::kInt64,
              "generate: input_ids must be [B, P] int64, got ",
              ids.defined() ? ids.sizes() : torch::IntArrayRef{});
  const int64_t b = ids.size(0), p = ids.size(1);
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
  const int64_t n_max = options.max_new_tokens;
  auto iopts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  auto fopts = torch::TensorOptions().dtype(torch::kFloat32).device(device);

  // Full mask buffer [B, P + n_max]: prompt mask, then 1 for every generated column.
  torch::Tensor mask = torch::ones({b, p + n_max}, iopts);
  mask.narrow(1, 0, p).copy_(prompt_mask);

  // Tokens present so far, for the repetition penalty: real prompt tokens inside the vocab.
  torch::Tensor presence;
  if (options.sampling.repetition_penalty != 1.0) {
    presence = torch::zeros({b, vocab}, torch::TensorOptions().dtype(torch::kBool).device(device));
    torch::Tensor valid = prompt_mask.to(torch::kBool) & ids.ge(0) & ids.lt(vocab);
    torch::Tensor safe_ids = torch::where(valid, ids, torch::zeros_like(ids));
    presence.scatter_(1, safe_ids, valid);
    // scatter_ with a bool src writes False for invalid entries that alias id 0; redo id 0.
    presence.select(1, 0).copy_((valid & ids.eq(0)).any(1));
  }
  torch::Tensor stop_ids = torch::tensor(options.stop_token_ids, torch::TensorOptions().dtype(torch::kInt64)).to(device);

  torch::Tensor tokens = torch::full({b, n_max}, options.pad_token_id, iopts);
  torch::Tensor logprobs = torch::zeros({b, n_max}, fopts);
  torch::Tensor sampling_logprobs = torch::zeros({b, n_max}, fopts);
  torch::Tensor lengths = torch::zeros({b}, iopts);
  torch::Tensor finished = torch::zeros({b}, torch::TensorOptions().dtype(torch::kBool).device(device));
  std::vector<torch::Tensor> step_logits;

  // Prefill.
  std::unique_ptr<KVCache> cache;
  torch::Tensor all_embeds;  // uncached oracle: [B, P + n, D]
  torch::Tensor hidden;
  if (options.use_cache) {
    KVCacheOptions co;
    co.num_layers = lm->config().num_hidden_layers;
    co.batch_size = b;
    co.num_kv_heads = lm->config().num_key_value_heads;
    co.head_dim = lm->config().resolved_head_dim();
    co.capacity = p + n_max;
    co.tensor_options = torch::TensorOptions().dtype(embeds.scalar_type()).device(device);
    cache = std::make_unique<KVCache>(co);
    hidden = lm->model->forward(embeds, prompt_mask, {}, cache.get());
  } else {
    all_embeds = embeds;
    hidden = lm->model->forward(all_embeds, prompt_mask);
  }
  torch::Tensor logits = lm->logits(hidden.select(1, hidden.size(1) - 1)).to(torch::kFloat32);  // [B, V]

  int64_t n = 0;
  for (; n < n_max; ++n) {
    if (options.return_logits) step_logits.push_back(logits);
    torch::Tensor processed = process_logits(logits, presence, options.sampling);
    torch::Tensor next = sampler.select(processed);  // [B]
    next = torch::where(finished, torch::full_like(next, options.pad_token_id), next);
    torch::Tensor alive = finished.logical_not();
    // log p(next) = logit(next) - logsumexp(logits): no [B, V] log-softmax temporary
    torch::Tensor lp = logits.gather(1, next.unsqueeze(1)).squeeze(1) - logits.logsumexp(-1);
    torch::Tensor slp = processed.gather(1, next.unsqueeze(1)).squeeze(1) - processed.logsumexp(-1);
    tokens.select(1, n).copy_(next);
    logprobs.select(1, n).copy_(torch::where(alive, lp, torch::zeros_like(lp)));
    sampling_logprobs.select(1, n).copy_(torch::where(alive, slp, torch::zeros_like(slp)));
    lengths += alive.to(torch::kInt64);
    if (presence.defined()) {
      presence.scatter_(1, next.clamp(0, vocab - 1).unsqueeze(1),
                        alive.unsqueeze(1) | presence.gather(1, next.clamp(0, vocab - 1).unsqueeze(1)));
    }
    if (stop_ids.numel() > 0) finished = finished | (alive & torch::isin(next, stop_ids));
    if (n + 1 == n_max || finished.all().item<bool>()) {
      ++n;
      break;
    }
    // Next step: embed the new token [B, 1, D].
    torch::Tensor new_embeds = lm->embed(next.unsqueeze(1));
    if (options.use_cache) {
      hidden = lm->model->forward(new_embeds, mask.narrow(1, 0, p + n + 1), {}, cache.get());
    } else {
      all_embeds = torch::cat({all_embeds, new_embeds}, 1);
      hidden = lm->model->forward(all_embeds, mask.narrow(1, 0, p + n + 1));
    }
    logits = lm->logits(hidden.select(1, hidden.size(1) - 1)).to(torch::kFloat32);
  }

  GenerationResult result;
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
  torch::Tensor hidden = lm->model->forward(embeds, mask);            // [B, P + R, D]
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
