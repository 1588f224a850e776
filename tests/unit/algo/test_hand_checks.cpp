// Hand-checkable properties of the algorithm library (DESIGN.md section 1): answers that
// follow from the equations without a reference implementation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "ril/algo/advantages.h"
#include "ril/algo/discriminator_loss.h"
#include "ril/algo/policy_loss.h"
#include "ril/algo/rewards.h"
#include "ril/algo/schedules.h"
#include "ril/common/error.h"
#include "ril/data/answer_checker.h"
#include "unit/algo/algo_test_util.h"

namespace ril::algo {
namespace {

using testing::max_abs_diff;
using testing::scalar;

torch::Tensor f64(std::vector<double> v) { return torch::tensor(v, torch::kFloat64); }

// ----- rewards ---------------------------------------------------------------------------------
TEST(Rewards, BinaryPartsAndSwitches) {
  const auto prob = f64({0.1, 0.9, 0.5, 0.49});
  const auto correct = torch::tensor({1, 1, 0, 0}, torch::kInt64);
  auto r = compute_rewards(prob, correct);
  EXPECT_EQ(max_abs_diff(r.discriminator, f64({1, 0, 0, 1})), 0.0);
  EXPECT_EQ(max_abs_diff(r.answer, f64({1, 1, 0, 0})), 0.0);
  EXPECT_EQ(max_abs_diff(r.total, f64({2, 1, 0, 1})), 0.0);
  RewardOptions no_d;
  no_d.use_discriminator = false;
  r = compute_rewards({}, correct.to(torch::kBool), no_d);
  EXPECT_EQ(r.total.scalar_type(), torch::kFloat32);
  EXPECT_EQ(max_abs_diff(r.total, f64({1, 1, 0, 0})), 0.0);
  RewardOptions no_a;
  no_a.use_answer = false;
  r = compute_rewards(prob.to(torch::kBFloat16), {}, no_a);
  EXPECT_EQ(r.total.scalar_type(), torch::kFloat32);
  EXPECT_EQ(max_abs_diff(r.total, f64({1, 0, 0, 1})), 0.0);
  EXPECT_THROW(compute_rewards({}, correct), c10::Error);
  EXPECT_THROW(compute_rewards(prob, torch::ones({3})), c10::Error);
}

TEST(Rewards, AnswerCorrectnessUsesChecker) {
  data::AnswerChecker checker;
  const auto c = answer_correctness(checker, {"Answer: 3", "Answer: 4", "I think yes.", ""},
                                    {"3", "3", "yes", "3"});
  EXPECT_EQ(c.scalar_type(), torch::kBool);
  EXPECT_TRUE(c.equal(torch::tensor({true, false, true, false})));
  EXPECT_THROW(answer_correctness(checker, {"a"}, {"a", "b"}), ril::Error);
}

// ----- advantages ------------------------------------------------------------------------------
TEST(Advantages, SumToZeroPerGroupAndMatchLayouts) {
  torch::manual_seed(1);
  const int64_t groups = 5, size = 8;  // 2G = 8 responses per question
  const auto rewards = torch::randint(0, 3, {groups * size}, torch::kInt64).to(torch::kFloat32);
  const auto a = group_advantages(rewards, size);
  EXPECT_LE(a.view({groups, size}).sum(1).abs().max().item<float>(), 1e-6);
  // Same result from a group-index tensor, and after shuffling the responses.
  const auto idx = torch::div(torch::arange(groups * size), size, /*rounding_mode=*/"floor");
  EXPECT_LE(max_abs_diff(group_advantages(rewards, idx), a), 1e-6);
  const auto perm = torch::randperm(groups * size);
  const auto shuffled = group_advantages(rewards.index_select(0, perm), idx.index_select(0, perm));
  EXPECT_LE(max_abs_diff(shuffled, a.index_select(0, perm)), 1e-6);
  // No std division: rewards {2, 0} -> {1, -1}; equal rewards -> 0.
  EXPECT_EQ(max_abs_diff(group_advantages(f64({2, 0, 1, 1}), 2), f64({1, -1, 0, 0})), 0.0);
  EXPECT_THROW(group_advantages(f64({1, 2, 3}), 2), c10::Error);
  EXPECT_THROW(group_advantages(f64({1, 2}), torch::tensor({0, -1})), c10::Error);
}

TEST(Advantages, StudentBaselineComparesStudentsAmongThemselvesAndNeverPushesTeachersDown) {
  // One group: students rewards {2, 0, 1, 1} (mean 1), teachers {2, 0, 1}; a second group with
  // students {0, 0} and a teacher at 2.
  const auto rewards = f64({2, 0, 1, 1, 2, 0, 1, 0, 0, 2});
  const auto groups = torch::tensor({0, 0, 0, 0, 0, 0, 0, 1, 1, 1});
  const auto student = torch::tensor({true, true, true, true, false, false, false, true, true, false});
  const auto a = student_baseline_advantages(rewards, groups, student);
  EXPECT_EQ(max_abs_diff(a, f64({1, -1, 0, 0, 1, 0, 0, 0, 0, 2})), 0.0);
  // Students alone: the same as the paper's group advantages.
  const auto s = torch::tensor({true, true, true, true});
  EXPECT_EQ(max_abs_diff(student_baseline_advantages(f64({2, 0, 1, 1}), torch::tensor({0, 0, 1, 1}), s),
                         group_advantages(f64({2, 0, 1, 1}), 2)), 0.0);
  EXPECT_THROW(student_baseline_advantages(f64({1, 2}), torch::tensor({0, 0}), torch::tensor({1, 0})), c10::Error);
}

// Imitation strength: student rows untouched; teacher rows times W, and / their tokens per response.
TEST(HandChecks, ScaleTeacherAdvantages) {
  const auto adv = f64({1, -2, 3, 4});
  const auto student = torch::tensor({true, false, true, false});
  const auto tokens = torch::tensor({5, 4, 7, 10});
  EXPECT_EQ(max_abs_diff(scale_teacher_advantages(adv, student, tokens, 8, false), f64({1, -16, 3, 32})), 0.0);
  EXPECT_EQ(max_abs_diff(scale_teacher_advantages(adv, student, tokens, 8, true), f64({1, -4, 3, 3.2})), 0.0);
  EXPECT_EQ(max_abs_diff(scale_teacher_advantages(adv, student, tokens, 1, false), adv), 0.0);
  EXPECT_THROW(scale_teacher_advantages(adv, student, tokens, -1, false), c10::Error);
  EXPECT_THROW(scale_teacher_advantages(adv, torch::tensor({1, 0, 1, 0}), tokens, 2, false), c10::Error);
}

// Teacher rows take their answer reward as advantage, whatever it was; student rows untouched.
TEST(HandChecks, AnswerTeacherAdvantages) {
  const auto adv = f64({1, -2, -0.5, 0.25});
  const auto student = torch::tensor({true, false, true, false});
  const auto answer = torch::tensor({0.0F, 1.0F, 1.0F, 0.0F});
  EXPECT_EQ(max_abs_diff(answer_teacher_advantages(adv, student, answer), f64({1, 1, -0.5, 0})), 0.0);
  EXPECT_EQ(answer_teacher_advantages(adv, student, torch::tensor({true, true, false, false})).scalar_type(), torch::kFloat64);
  EXPECT_THROW(answer_teacher_advantages(adv, torch::tensor({1, 0, 1, 0}), answer), c10::Error);
  EXPECT_THROW(answer_teacher_advantages(adv, student, answer.slice(0, 0, 3)), c10::Error);
}

// ----- policy loss -----------------------------------------------------------------------------
struct Case {
  torch::Tensor logp, old, ref, adv, mask;
};

Case random_case(int64_t n, int64_t t, double old_sd, uint64_t seed) {
  torch::manual_seed(seed);
  Case c;
  c.logp = -torch::rand({n, t}, torch::kFloat64) * 3;
  c.old = c.logp + old_sd * torch::randn({n, t}, torch::kFloat64);
  c.ref = c.logp + 0.3 * torch::randn({n, t}, torch::kFloat64);
  c.adv = torch::randn({n}, torch::kFloat64);
  c.mask = torch::ones({n, t}, torch::kFloat64);
  c.mask.index_put_({0, torch::indexing::Slice(t / 2)}, 0);
  return c;
}

std::pair<PolicyLossResult, torch::Tensor> run(const Case& c, const PolicyLossOptions& o) {
  PolicyLossInput in;
  in.logp = c.logp.clone().requires_grad_(true);
  in.logp_old = c.old;
  in.logp_ref = c.ref;
  in.advantages = c.adv;
  in.mask = c.mask;
  auto res = policy_loss(in, o);
  res.loss.backward();
  return {res, in.logp.grad()};
}

TEST(PolicyLoss, OnPolicyNoKlGradientIsMinusAdvantageOverNormaliser) {
  auto c = random_case(4, 6, 0.0, 2);
  c.old = c.logp.clone();  // r = 1
  PolicyLossOptions o;
  o.kl_beta = 0.0;
  o.normaliser = dr_grpo_normaliser(/*max_new_tokens=*/6, /*num_responses=*/4);
  EXPECT_EQ(o.normaliser, 24.0);
  auto [res, grad] = run(c, o);
  const auto expected = -c.adv.unsqueeze(1) * c.mask / o.normaliser;
  const double diff = max_abs_diff(grad, expected);
  std::printf("[ algo hand ] r=1 beta=0 grad = -A/normaliser: max abs diff %.3e\n", diff);
  EXPECT_LE(diff, 1e-12);
  // Loss = -sum_i A_i |o_i| / normaliser (no length normalisation).
  const double want = -(c.adv * c.mask.sum(1)).sum().item<double>() / o.normaliser;
  EXPECT_NEAR(scalar(res.loss), want, 1e-12);
  EXPECT_NEAR(scalar(res.mean_ratio), 1.0, 1e-12);
  EXPECT_EQ(scalar(res.clip_fraction), 0.0);
}

TEST(PolicyLoss, ClippingKillsGradient) {
  PolicyLossOptions o;
  o.kl_beta = 0.0;
  o.normaliser = 1.0;
  Case c;
  // Tokens 0, 1: r = e^0.5 > 1 + eps; token 2: r = e^-0.5 < 1 - eps. Row 0 has A > 0, row 1
  // A < 0; the clipped branch (no gradient) wins exactly when it is the pessimistic one.
  c.logp = f64({-1.0, -1.0, -1.0, -1.0, -1.0, -1.0}).view({2, 3});
  c.old = f64({-1.5, -1.5, -0.5, -1.5, -1.5, -0.5}).view({2, 3});
  c.ref = c.logp.clone();
  c.adv = f64({2.0, -3.0});
  c.mask = torch::ones({2, 3}, torch::kFloat64);
  auto [res, grad] = run(c, o);
  const double up = std::exp(0.5), down = std::exp(-0.5);
  // Row 0 (A = 2): tokens 0,1 clipped (r > 1.2); token 2 unclipped (r < 0.8, A > 0).
  // Row 1 (A = -3): tokens 0,1 unclipped (r > 1.2, A < 0); token 2 clipped (r < 0.8, A < 0).
  const auto expected = f64({0.0, 0.0, -2.0 * down, 3.0 * up, 3.0 * up, 0.0}).view({2, 3});
  EXPECT_LE(max_abs_diff(grad, expected), 1e-12) << grad;
  EXPECT_NEAR(scalar(res.clip_fraction), 3.0 / 6.0, 1e-12);
  // Objective: 2*1.2*2 + 2*e^-0.5 + (-3)(2 e^0.5) + (-3)(0.8)
  const double obj = 2 * 1.2 * 2 + 2 * down - 3 * 2 * up - 3 * 0.8;
  EXPECT_NEAR(scalar(res.loss), -obj, 1e-12);
}

TEST(PolicyLoss, KlIsZeroWhenThetaEqualsRefAndBetaScalesIt) {
  auto c = random_case(3, 5, 0.2, 3);
  PolicyLossOptions o;
  o.normaliser = 15.0;
  c.ref = c.logp.clone();
  auto [same, g_same] = run(c, o);
  EXPECT_EQ(scalar(same.mean_kl), 0.0);
  EXPECT_EQ(scalar(same.kl_term), 0.0);
  // k3 gradient at theta = ref is 0 too: same gradient as beta = 0.
  PolicyLossOptions o0 = o;
  o0.kl_beta = 0.0;
  auto [nokl, g_nokl] = run(c, o0);
  EXPECT_LE(max_abs_diff(g_same, g_nokl), 1e-15);

  // beta scales the KL part linearly: loss(beta) = loss(0) + beta * kl_term.
  c = random_case(3, 5, 0.2, 4);
  auto [base, g0] = run(c, o0);
  EXPECT_GT(scalar(base.kl_term), 0.0);  // k3 >= 0, > 0 when theta != ref
  for (double beta : {0.01, 0.1, 1.0}) {
    PolicyLossOptions ob = o;
    ob.kl_beta = beta;
    auto [res, g] = run(c, ob);
    EXPECT_NEAR(scalar(res.loss), scalar(base.loss) + beta * scalar(base.kl_term), 1e-12);
    // KL gradient: d/dl beta*(e^(ref-l) - (ref-l) - 1) = beta*(1 - e^(ref-l)), masked.
    const auto kl_grad = beta * (1 - torch::exp(c.ref - c.logp)) * c.mask / o.normaliser;
    EXPECT_LE(max_abs_diff(g - g0, kl_grad), 1e-12) << "beta " << beta;
  }
}

TEST(PolicyLoss, MaskedTokensContributeNothing) {
  auto c = random_case(3, 6, 0.3, 5);
  PolicyLossOptions o;
  o.normaliser = 18.0;
  auto [res, grad] = run(c, o);
  // Garbage (nan, inf, huge) at masked positions changes nothing.
  Case g = c;
  const auto masked = c.mask.eq(0);
  g.logp = c.logp.masked_fill(masked, std::numeric_limits<double>::quiet_NaN());
  g.old = c.old.masked_fill(masked, std::numeric_limits<double>::infinity());
  g.ref = c.ref.masked_fill(masked, -1e300);
  auto [res2, grad2] = run(g, o);
  EXPECT_EQ(scalar(res.loss), scalar(res2.loss));
  EXPECT_EQ(max_abs_diff(grad, grad2), 0.0);
  EXPECT_EQ(grad.masked_select(masked).abs().max().item<double>(), 0.0);
  EXPECT_EQ(scalar(res.num_tokens), 15.0);
  // Dropping the masked tokens from the tensor entirely gives the same loss.
  Case cut = c;
  for (auto* t : {&cut.logp, &cut.old, &cut.ref, &cut.mask}) *t = t->narrow(0, 1, 2);
  cut.adv = c.adv.narrow(0, 1, 2);
  const auto res_rest = run(cut, o).first;
  Case first = c;
  for (auto* t : {&first.logp, &first.old, &first.ref, &first.mask}) {
    *t = t->narrow(0, 0, 1).narrow(1, 0, 3);
  }
  first.adv = c.adv.narrow(0, 0, 1);
  const auto res_first = run(first, o).first;
  EXPECT_NEAR(scalar(res.loss), scalar(res_rest.loss) + scalar(res_first.loss), 1e-12);
}

TEST(PolicyLoss, GradientsOnlyToLogpAndBf16Inputs) {
  auto c = random_case(2, 4, 0.3, 6);
  PolicyLossInput in;
  in.logp = c.logp.to(torch::kBFloat16).requires_grad_(true);
  in.logp_old = c.old.to(torch::kBFloat16).requires_grad_(true);
  in.logp_ref = c.ref.to(torch::kBFloat16).requires_grad_(true);
  in.advantages = c.adv.to(torch::kBFloat16).requires_grad_(true);
  in.mask = c.mask.to(torch::kBool);
  PolicyLossOptions o;
  o.normaliser = 8.0;
  const auto res = policy_loss(in, o);
  EXPECT_EQ(res.loss.scalar_type(), torch::kFloat32);  // float32 math for bf16 inputs
  res.loss.backward();
  ASSERT_TRUE(in.logp.grad().defined());
  EXPECT_GT(in.logp.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_FALSE(in.logp_old.grad().defined());
  EXPECT_FALSE(in.logp_ref.grad().defined());
  EXPECT_FALSE(in.advantages.grad().defined());
  for (const auto& d : {res.objective, res.mean_kl, res.clip_fraction, res.mean_ratio}) {
    EXPECT_FALSE(d.requires_grad());
  }
}

TEST(PolicyLoss, EntropyOfUniformLogitsIsLogV) {
  auto c = random_case(2, 3, 0.1, 7);
  PolicyLossInput in;
  in.logp = c.logp;
  in.logp_old = c.old;
  in.logp_ref = c.ref;
  in.advantages = c.adv;
  in.logits = torch::zeros({2, 3, 16}, torch::kFloat32);
  PolicyLossOptions o;
  o.normaliser = 6.0;
  const auto res = policy_loss(in, o);
  EXPECT_NEAR(scalar(res.entropy), std::log(16.0), 1e-12);
}

TEST(PolicyLoss, RejectsBadInput) {
  auto c = random_case(2, 4, 0.1, 8);
  PolicyLossInput in;
  in.logp = c.logp;
  in.logp_old = c.old;
  in.logp_ref = c.ref;
  in.advantages = c.adv;
  PolicyLossOptions o;  // normaliser 0
  EXPECT_THROW(policy_loss(in, o), c10::Error);
  o.normaliser = 8.0;
  in.advantages = f64({1, 2, 3});
  EXPECT_THROW(policy_loss(in, o), c10::Error);
  in.advantages = c.adv;
  in.logp_ref = torch::Tensor();
  EXPECT_THROW(policy_loss(in, o), c10::Error);  // beta > 0 needs the reference
  o.kl_beta = 0.0;
  EXPECT_NO_THROW(policy_loss(in, o));
  EXPECT_THROW(dr_grpo_normaliser(0, 4), ril::Error);
}

TEST(PolicyLoss, CudaMatchesCpu) {
  // Device-agnostic math: the same case on CUDA (skipped on CPU-only builds/machines).
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto c = random_case(4, 7, 0.4, 9);
  PolicyLossOptions o;
  o.normaliser = 28.0;
  auto [cpu, g_cpu] = run(c, o);
  Case d = c;
  for (auto* t : {&d.logp, &d.old, &d.ref, &d.adv, &d.mask}) *t = t->to(torch::kCUDA);
  auto [gpu, g_gpu] = run(d, o);
  EXPECT_TRUE(gpu.loss.is_cuda());
  EXPECT_LE(std::abs(scalar(cpu.loss) - scalar(gpu.loss)), 1e-12);
  EXPECT_LE(max_abs_diff(g_cpu, g_gpu.cpu()), 1e-12);
  const auto idx = torch::tensor({1, 0, 1, 0}, torch::kInt64);
  EXPECT_LE(max_abs_diff(group_advantages(c.adv, idx),
                         group_advantages(d.adv, idx.to(torch::kCUDA)).cpu()), 1e-12);
}

// ----- discriminator loss ----------------------------------------------------------------------
TEST(DiscriminatorLoss, LabelsAccuracyAndStability) {
  // Student = 1, teacher = 0. Perfect, confident predictions: loss ~ 0, accuracy 1.
  const auto logits = torch::tensor({100.0f, -100.0f, 30.0f, -30.0f}).requires_grad_(true);
  const auto student = torch::tensor({true, false, true, false});
  auto res = discriminator_loss(logits, student);
  EXPECT_LT(scalar(res.loss), 1e-12);
  EXPECT_EQ(scalar(res.accuracy), 1.0);
  // Confidently wrong: loss = mean |logit|, finite, and gradient (sigmoid - y)/N.
  const auto wrong = discriminator_loss(logits, student.logical_not());
  EXPECT_NEAR(scalar(wrong.loss), (100 + 100 + 30 + 30) / 4.0, 1e-3);
  EXPECT_EQ(scalar(wrong.accuracy), 0.0);
  wrong.loss.backward();
  EXPECT_LE(max_abs_diff(logits.grad(), torch::tensor({0.25, -0.25, 0.25, -0.25})), 1e-7);
  // logit 0 (D = 0.5) counts as "student", as in the reward.
  res = discriminator_loss(torch::zeros({2}), torch::tensor({1, 0}));
  EXPECT_NEAR(scalar(res.loss), std::log(2.0), 1e-6);
  EXPECT_EQ(scalar(res.student_accuracy), 1.0);
  EXPECT_EQ(scalar(res.teacher_accuracy), 0.0);
  EXPECT_NEAR(scalar(res.mean_student_prob), 0.5, 1e-7);
}

// The reduction training uses: the sum over a rank's share divided by the responses of the whole
// step, so that the gradients of two halves add up to those of the mean over all.
TEST(DiscriminatorLoss, SumOverTheGlobalCountAddsUpAcrossShares) {
  const auto x = torch::tensor({2.0, -1.0, 0.0, -3.0}, torch::kFloat64);
  const auto student = torch::tensor({1, 1, 0, 0});
  DiscriminatorLossOptions global;
  global.normaliser = 4;
  const auto whole = torch::tensor({2.0, -1.0, 0.0, -3.0}, torch::kFloat64).requires_grad_(true);
  discriminator_loss(whole, student).loss.backward();  // the mean
  const auto a = x.narrow(0, 0, 3).clone().requires_grad_(true), b = x.narrow(0, 3, 1).clone().requires_grad_(true);
  const auto ra = discriminator_loss(a, student.narrow(0, 0, 3), global);
  const auto rb = discriminator_loss(b, student.narrow(0, 3, 1), global);
  (ra.loss + rb.loss).backward();
  EXPECT_LE(max_abs_diff(torch::cat({a.grad(), b.grad()}), whole.grad()), 1e-15);
  EXPECT_NEAR(scalar(ra.loss) + scalar(rb.loss), scalar(discriminator_loss(x, student).loss), 1e-15);
  // Sums by hand: BCE = softplus(-x) for students, softplus(x) for teachers.
  auto softplus = [](double v) { return std::log1p(std::exp(v)); };
  EXPECT_NEAR(scalar(ra.loss_sum), softplus(-2) + softplus(1) + softplus(0), 1e-12);
  EXPECT_NEAR(scalar(ra.loss), scalar(ra.loss_sum) / 4, 1e-15);
  EXPECT_EQ(scalar(ra.students), 2.0);
  EXPECT_EQ(scalar(ra.teachers), 1.0);
  EXPECT_EQ(scalar(ra.student_correct), 1.0);  // 2 >= 0 right, -1 wrong
  EXPECT_EQ(scalar(ra.teacher_correct), 0.0);  // logit 0 counts as student: wrong
  EXPECT_NEAR(scalar(ra.student_prob_sum), 1 / (1 + std::exp(-2.0)) + 1 / (1 + std::exp(1.0)), 1e-12);
  EXPECT_NEAR(scalar(ra.teacher_prob_sum), 0.5, 1e-15);
  EXPECT_EQ(scalar(rb.teacher_correct), 1.0);
}

// ----- schedules -------------------------------------------------------------------------------
TEST(Schedules, ConstantAndLinear) {
  LrScheduleOptions c;
  c.start_lr = 1e-6;
  const LrSchedule constant(c);
  for (int64_t s : {0, 1, 1000}) EXPECT_EQ(constant.lr(s), 1e-6);
  LrScheduleOptions l;
  l.kind = parse_lr_schedule_kind("linear");
  l.start_lr = 1e-5;
  l.end_lr = 1e-6;
  l.total_steps = 5;
  const LrSchedule linear(l);
  EXPECT_DOUBLE_EQ(linear.lr(0), 1e-5);
  EXPECT_DOUBLE_EQ(linear.lr(2), 5.5e-6);
  EXPECT_DOUBLE_EQ(linear.lr(4), 1e-6);
  EXPECT_DOUBLE_EQ(linear.lr(100), 1e-6);
  EXPECT_THROW(parse_lr_schedule_kind("cosine"), ril::ConfigError);
  l.total_steps = 0;
  EXPECT_THROW(LrSchedule{l}, ril::ConfigError);

  auto p = torch::zeros({2}, torch::requires_grad());
  torch::optim::AdamW opt({p}, torch::optim::AdamWOptions(1e-3));
  set_learning_rate(opt, linear.lr(2));
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].options().get_lr(), 5.5e-6);
}

}  // namespace
}  // namespace ril::algo
