#include "ril/algo/policy_loss.h"

#include "ril/common/error.h"
#include "tensor_checks.h"

namespace ril::algo {

double dr_grpo_normaliser(int64_t max_new_tokens, int64_t num_responses) {
  RIL_CHECK(max_new_tokens > 0 && num_responses > 0, "dr_grpo_normaliser: max_new_tokens (",
            max_new_tokens, ") and num_responses (", num_responses, ") must be positive");
  return static_cast<double>(max_new_tokens) * static_cast<double>(num_responses);
}

namespace {

void check_input(const PolicyLossInput& in, const PolicyLossOptions& options) {
  TORCH_CHECK(options.normaliser > 0, "policy_loss: normaliser must be > 0 (e.g. "
              "dr_grpo_normaliser(max_new_tokens, num_responses)), got ", options.normaliser);
  TORCH_CHECK(options.clip_eps >= 0 && options.clip_eps < 1,
              "policy_loss: clip_eps must be in [0, 1), got ", options.clip_eps);
  TORCH_CHECK(options.kl_beta >= 0, "policy_loss: kl_beta must be >= 0, got ", options.kl_beta);
  TORCH_CHECK(in.logp.defined() && in.logp.dim() == 2 && in.logp.is_floating_point(),
              "policy_loss: logp must be a floating [N, T] tensor");
  const auto shape = in.logp.sizes();
  TORCH_CHECK(in.logp_old.defined() && in.logp_old.sizes() == shape,
              "policy_loss: logp_old must be ", shape, ", got ",
              in.logp_old.defined() ? in.logp_old.sizes() : at::IntArrayRef{});
  TORCH_CHECK(options.kl_beta == 0 || in.logp_ref.defined(),
              "policy_loss: kl_beta = ", options.kl_beta, " needs logp_ref");
  if (in.logp_ref.defined()) {
    TORCH_CHECK(in.logp_ref.sizes() == shape, "policy_loss: logp_ref must be ", shape, ", got ",
                in.logp_ref.sizes());
  }
  TORCH_CHECK(in.advantages.defined() && in.advantages.dim() == 1 &&
                  in.advantages.size(0) == in.logp.size(0),
              "policy_loss: advantages must be [N] = [", in.logp.size(0), "]");
  if (in.mask.defined()) {
    TORCH_CHECK(in.mask.sizes() == shape, "policy_loss: mask must be ", shape, ", got ",
                in.mask.sizes());
  }
  if (in.logits.defined()) {
    TORCH_CHECK(in.logits.dim() == 3 && in.logits.size(0) == shape[0] &&
                    in.logits.size(1) == shape[1],
                "policy_loss: logits must be [N, T, V] with [N, T] = ", shape, ", got ",
                in.logits.sizes());
  }
}

}  // namespace

PolicyLossResult policy_loss(const PolicyLossInput& in, const PolicyLossOptions& options) {
  check_input(in, options);
  const auto dtype = detail::compute_dtype(in.logp);
  const auto opts = in.logp.options().dtype(dtype);
  // [N, T] bool, 1 = valid token.
  const auto valid = in.mask.defined() ? detail::as_bool(in.mask.to(in.logp.device()))
                                       : torch::ones(in.logp.sizes(), opts.dtype(torch::kBool));
  const auto zero = torch::zeros({}, opts);
  // Invalid positions are set to 0 BEFORE any exp, so garbage there cannot reach the loss or
  // its gradient (where() passes zero gradient to the unselected branch).
  const auto logp = torch::where(valid, in.logp.to(dtype), zero);                     // [N, T]
  const auto logp_old = torch::where(valid, in.logp_old.detach().to(dtype), zero);    // [N, T]
  const auto adv = in.advantages.detach().to(opts).unsqueeze(1);                      // [N, 1]

  const auto ratio = torch::exp(logp - logp_old);                                     // [N, T]
  const double lo = 1.0 - options.clip_eps;
  const double hi = 1.0 + options.clip_eps;
  const auto unclipped = ratio * adv;
  const auto clipped = ratio.clamp(lo, hi) * adv;
  const auto pg = torch::where(valid, torch::minimum(unclipped, clipped), zero);      // [N, T]

  torch::Tensor kl;  // [N, T], k3 estimator of KL(pi_theta || pi_ref), 0 at invalid tokens
  if (in.logp_ref.defined()) {
    const auto logp_ref = torch::where(valid, in.logp_ref.detach().to(dtype), zero);
    const auto d = logp_ref - logp;
    kl = torch::where(valid, torch::exp(d) - d - 1.0, zero);
  } else {
    kl = torch::zeros_like(pg);
  }

  const double inv_norm = 1.0 / options.normaliser;
  const auto pg_sum = pg.sum() * inv_norm;
  const auto kl_sum = kl.sum() * inv_norm;
  const auto objective = pg_sum - options.kl_beta * kl_sum;

  PolicyLossResult out;
  out.loss = -objective;
  out.objective = objective.detach();
  out.pg_term = pg_sum.detach();
  out.kl_term = kl_sum.detach();
  {
    torch::NoGradGuard no_grad;
    const auto validf = valid.to(dtype);
    const auto count = validf.sum();
    const auto denom = count.clamp_min(1);
    const auto r = ratio.detach();
    out.num_tokens = count;
    out.token_kl = kl.detach();
    out.mean_kl = out.token_kl.sum() / denom;
    out.mean_ratio = (r * validf).sum() / denom;
    const auto is_clipped = (r.gt(hi) & adv.gt(0)) | (r.lt(lo) & adv.lt(0));          // [N, T]
    out.clip_fraction = (is_clipped & valid).to(dtype).sum() / denom;
    if (in.logits.defined()) {
      // [N, T, V] -> per-token entropy [N, T] = -sum_v p log p
      const auto logprob = torch::log_softmax(in.logits.detach().to(dtype), /*dim=*/-1);
      const auto ent = -(logprob.exp() * logprob).sum(-1);
      out.entropy = torch::where(valid, ent, zero).sum() / denom;
    }
  }
  return out;
}

}  // namespace ril::algo
