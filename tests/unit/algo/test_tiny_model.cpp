// End to end on the "tiny" Qwen2 preset: the policy loss, fed by teacher-forced log-probs
// (model::sequence_logprobs), moves a response's log-prob in the direction of its advantage
// after one AdamW step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "ril/algo/advantages.h"
#include "ril/algo/policy_loss.h"
#include "ril/model/generator.h"
#include "ril/model/model_config.h"
#include "ril/model/qwen2_decoder.h"

namespace ril::algo {
namespace {

// Sum of log-probs over each response's valid tokens: [B].
torch::Tensor response_logprob(model::Qwen2ForCausalLM& lm, const model::TeacherForcedInput& in) {
  return model::sequence_logprobs(lm, in).sum(1);
}

// One AdamW step on the RIL loss with advantages `adv` ([2]); returns the change of each
// response's total log-prob.
torch::Tensor step_change(double a0, double a1) {
  const auto config = model::model_preset("tiny").text();
  model::Qwen2ForCausalLM lm(config);
  lm->init_weights(/*seed=*/11);
  lm->train();

  model::TeacherForcedInput in;
  in.prompt_ids = torch::tensor({{5, 17, 99, 250}, {5, 17, 99, 250}}, torch::kInt64);
  in.response_ids = torch::tensor({{31, 400, 7, 12, 600}, {64, 3, 900, 0, 0}}, torch::kInt64);
  in.response_mask = torch::tensor({{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}, torch::kInt64);

  torch::Tensor before;
  {
    torch::NoGradGuard no_grad;
    before = response_logprob(lm, in);
  }
  PolicyLossInput pin;
  pin.logp = model::sequence_logprobs(lm, in);  // [2, 5], requires grad
  pin.logp_old = pin.logp.detach().clone();      // pi_old = pi_theta (mu = 1)
  pin.logp_ref = pin.logp.detach().clone();      // pi_ref = pi_theta at the first step
  pin.advantages = torch::tensor({a0, a1}, torch::kFloat32);
  pin.mask = in.response_mask;
  PolicyLossOptions options;
  options.normaliser = dr_grpo_normaliser(/*max_new_tokens=*/5, /*num_responses=*/2);
  const auto res = policy_loss(pin, options);

  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(/*lr=*/1e-3));
  opt.zero_grad();
  res.loss.backward();
  opt.step();

  torch::NoGradGuard no_grad;
  const auto after = response_logprob(lm, in);
  std::printf("[ algo tiny ] A = (%+.0f, %+.0f): log-prob %.5f -> %.5f, %.5f -> %.5f\n", a0, a1,
              before[0].item<float>(), after[0].item<float>(), before[1].item<float>(),
              after[1].item<float>());
  return after - before;
}

TEST(TinyModel, PositiveAdvantageRaisesLogProb) {
  const auto d = step_change(1.0, 0.0);
  EXPECT_GT(d[0].item<float>(), 0.0f);
}

TEST(TinyModel, NegativeAdvantageLowersLogProb) {
  const auto d = step_change(-1.0, 0.0);
  EXPECT_LT(d[0].item<float>(), 0.0f);
}

TEST(TinyModel, GroupAdvantagesPushApart) {
  // Rewards {2, 0} in one group -> A = {+1, -1}: the gap between the two responses grows.
  const auto adv = group_advantages(torch::tensor({2.0f, 0.0f}), /*group_size=*/2);
  const auto d = step_change(adv[0].item<double>(), adv[1].item<double>());
  EXPECT_GT((d[0] - d[1]).item<float>(), 0.0f);
}

}  // namespace
}  // namespace ril::algo
