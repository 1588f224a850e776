// The RIL / Dr.GRPO policy loss with a per-token k3 KL penalty (DESIGN.md section 1, step 6).
// For response i and valid token t (mask 1), with l = log pi_theta, l_old, l_ref the token
// log-probs:
//   r      = exp(l - l_old)
//   KL_k3  = exp(l_ref - l) - (l_ref - l) - 1            (>= 0, 0 when theta = ref)
//   term   = min(r * A_i, clip(r, 1 - eps, 1 + eps) * A_i) - beta * KL_k3
//   objective = sum_{i, t valid} term / normaliser
//   loss   = -objective
// Dr.GRPO aggregation: token terms are summed (no 1/|o_i| length normalisation) and divided by
// a constant, normally max_new_tokens * number_of_responses (dr_grpo_normaliser()); with
// data parallelism use the GLOBAL response count so that the allreduced gradient sum is right.
// Teacher responses enter exactly like student ones (imitation inside RL).
//
// Gradients flow to logp only: logp_old, logp_ref and advantages are detached. Math is
// float32 (float64 when logp is float64), also for bf16 inputs. Masked positions may hold any
// value (even inf/nan): they are replaced before use and contribute nothing, gradient included.
// Called by the learner ranks; no communication, no host sync (diagnostics stay tensors).
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace ril::algo {

struct PolicyLossOptions {
  double clip_eps = 0.2;    // eps: ratio clipped to [1 - eps, 1 + eps]
  double kl_beta = 0.01;    // beta: weight of the per-token k3 KL against pi_ref (0: no KL)
  double normaliser = 0.0;  // constant divisor of the token sum; must be > 0
};

// max_new_tokens * num_responses, as a double (the Dr.GRPO constant).
double dr_grpo_normaliser(int64_t max_new_tokens, int64_t num_responses);

struct PolicyLossInput {
  torch::Tensor logp;        // [N, T] log pi_theta(o_t | ...), requires grad (e.g. sequence_logprobs)
  torch::Tensor logp_old;    // [N, T] log pi_old (behaviour policy), treated as constant
  torch::Tensor logp_ref;    // [N, T] log pi_ref; may be undefined when kl_beta == 0
  torch::Tensor advantages;  // [N] A_i, constant
  torch::Tensor mask;        // [N, T] 0/1 or bool, 1 = a real response token; undefined = all
  torch::Tensor logits;      // optional [N, T, V] raw logits of pi_theta, for the entropy only
};

// Scalars are 0-dim tensors in the compute dtype, on the inputs' device. Diagnostics are
// detached and averaged over valid tokens (0 when there is none).
struct PolicyLossResult {
  torch::Tensor loss;           // -objective, differentiable w.r.t. input.logp
  torch::Tensor objective;      // detached objective
  torch::Tensor pg_term;        // detached sum_t min(...) / normaliser (the policy-gradient part)
  torch::Tensor kl_term;        // detached sum_t KL_k3 / normaliser (before beta)
  torch::Tensor mean_kl;        // mean KL_k3 per valid token
  torch::Tensor clip_fraction;  // share of valid tokens where the clipped branch is active:
                                // (r > 1 + eps and A > 0) or (r < 1 - eps and A < 0)
  torch::Tensor mean_ratio;     // mean r per valid token
  torch::Tensor entropy;        // mean token entropy of softmax(logits); undefined without logits
  torch::Tensor num_tokens;     // number of valid tokens
  torch::Tensor token_kl;       // detached [N, T] KL_k3 per token, 0 at masked positions (for
                                // the per-source KL figures: student vs teacher tokens)
};

PolicyLossResult policy_loss(const PolicyLossInput& input, const PolicyLossOptions& options);

}  // namespace ril::algo
