// The C++ algorithm library against tests/tools/algo_reference.py (an independent, per-token
// Python implementation of DESIGN.md section 1 with analytic + autograd gradients).
// Every comparison runs in float64 and prints its max abs difference; tolerance 1e-6 (the
// differences seen are ~1e-16). Regenerate the fixture with
//   /usr/bin/python3 tests/tools/algo_reference.py
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ril/algo/advantages.h"
#include "ril/algo/discriminator_loss.h"
#include "ril/algo/policy_loss.h"
#include "ril/algo/rewards.h"
#include "ril/algo/schedules.h"
#include "ril/model/safetensors.h"
#include "unit/algo/algo_test_util.h"

namespace ril::algo {
namespace {

using testing::max_abs_diff;
using testing::scalar;

constexpr double kTol = 1e-6;
constexpr const char* kFormatVersion = "1";

class AlgoReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = testing::fixtures_dir() + "/reference.safetensors";
    file_ = std::make_unique<model::SafetensorsFile>(path);
    const auto& meta = file_->metadata();
    auto it = meta.find("format_version");
    ASSERT_TRUE(it != meta.end() && it->second == kFormatVersion)
        << path << ": format_version " << (it == meta.end() ? "missing" : it->second)
        << ", expected " << kFormatVersion
        << "; regenerate with /usr/bin/python3 tests/tools/algo_reference.py";
  }
  static void TearDownTestSuite() { file_.reset(); }

  static torch::Tensor get(const std::string& name) {
    EXPECT_TRUE(file_->contains(name)) << "fixture lacks " << name;
    return file_->tensor(name).clone();
  }
  static std::vector<std::string> list(const std::string& key) {
    std::vector<std::string> out;
    std::stringstream in(file_->metadata().at(key));
    for (std::string s; std::getline(in, s, ',');) out.push_back(s);
    return out;
  }
  static void report(const std::string& what, double diff) {
    std::printf("[ algo ref ] %-40s max abs diff %.3e\n", what.c_str(), diff);
    EXPECT_LE(diff, kTol) << what;
  }

  static std::unique_ptr<model::SafetensorsFile> file_;
};
std::unique_ptr<model::SafetensorsFile> AlgoReference::file_;

TEST_F(AlgoReference, Rewards) {
  const auto prob = get("rewards.student_prob");
  const auto correct = get("rewards.answer_correct");
  for (int d = 0; d < 2; ++d) {
    for (int a = 0; a < 2; ++a) {
      RewardOptions opt;
      opt.use_discriminator = d != 0;
      opt.use_answer = a != 0;
      const auto r = compute_rewards(prob, correct, opt);
      const std::string key = "rewards.expected.d" + std::to_string(d) + "a" + std::to_string(a);
      EXPECT_EQ(r.total.scalar_type(), torch::kFloat64);
      report(key + ".total", max_abs_diff(r.total, get(key + ".total")));
      report(key + ".discriminator", max_abs_diff(r.discriminator, get(key + ".discriminator")));
      report(key + ".answer", max_abs_diff(r.answer, get(key + ".answer")));
    }
  }
}

TEST_F(AlgoReference, Advantages) {
  const auto contiguous = group_advantages(get("adv.contiguous.rewards"),
                                           get("adv.contiguous.group_size").item<int64_t>());
  report("advantages.contiguous", max_abs_diff(contiguous, get("adv.contiguous.expected")));
  const auto indexed =
      group_advantages(get("adv.indexed.rewards"), get("adv.indexed.group_index"));
  report("advantages.indexed", max_abs_diff(indexed, get("adv.indexed.expected")));
}

TEST_F(AlgoReference, PolicyLoss) {
  const auto cases = list("policy_cases");
  ASSERT_GE(cases.size(), 4u);
  for (const auto& name : cases) {
    const std::string p = "policy." + name + ".";
    const auto opts = get(p + "options");
    PolicyLossOptions options;
    options.clip_eps = opts[0].item<double>();
    options.kl_beta = opts[1].item<double>();
    options.normaliser = opts[2].item<double>();
    PolicyLossInput in;
    in.logp = get(p + "logp").requires_grad_(true);
    in.logp_old = get(p + "logp_old");
    in.logp_ref = get(p + "logp_ref");
    in.advantages = get(p + "advantages");
    in.mask = get(p + "mask");
    const bool has_logits = file_->contains(p + "logits");
    if (has_logits) in.logits = get(p + "logits");

    const auto res = policy_loss(in, options);
    ASSERT_EQ(res.loss.scalar_type(), torch::kFloat64);
    res.loss.backward();
    report(p + "loss", std::abs(scalar(res.loss) - get(p + "expected.loss").item<double>()));
    ASSERT_TRUE(in.logp.grad().defined());
    EXPECT_FALSE(torch::isnan(in.logp.grad()).any().item<bool>()) << p;
    report(p + "grad_logp", max_abs_diff(in.logp.grad(), get(p + "expected.grad_logp")));
    const auto diag = get(p + "expected.diagnostics");
    const auto mine = torch::stack({res.pg_term, res.kl_term, res.mean_kl, res.clip_fraction,
                                    res.mean_ratio, res.num_tokens});
    report(p + "diagnostics", max_abs_diff(mine, diag));
    if (has_logits) {
      ASSERT_TRUE(res.entropy.defined());
      report(p + "entropy",
             std::abs(scalar(res.entropy) - get(p + "expected.entropy").item<double>()));
    } else {
      EXPECT_FALSE(res.entropy.defined());
    }
  }
}

TEST_F(AlgoReference, PolicyLossFloat32) {
  // The same cases in float32 (the production dtype): loose tolerance, same answers.
  for (const auto& name : list("policy_cases")) {
    const std::string p = "policy." + name + ".";
    const auto opts = get(p + "options");
    PolicyLossOptions options{opts[0].item<double>(), opts[1].item<double>(),
                              opts[2].item<double>()};
    PolicyLossInput in;
    in.logp = get(p + "logp").to(torch::kFloat32).requires_grad_(true);
    in.logp_old = get(p + "logp_old").to(torch::kFloat32);
    in.logp_ref = get(p + "logp_ref").to(torch::kFloat32);
    in.advantages = get(p + "advantages").to(torch::kFloat32);
    in.mask = get(p + "mask").to(torch::kBool);
    const auto res = policy_loss(in, options);
    EXPECT_EQ(res.loss.scalar_type(), torch::kFloat32);
    res.loss.backward();
    const double dl = std::abs(scalar(res.loss) - get(p + "expected.loss").item<double>());
    const double dg = max_abs_diff(in.logp.grad(), get(p + "expected.grad_logp"));
    std::printf("[ algo ref ] %-40s f32 loss diff %.3e grad diff %.3e\n", p.c_str(), dl, dg);
    EXPECT_LE(dl, 1e-5);
    EXPECT_LE(dg, 1e-6);
  }
}

TEST_F(AlgoReference, DiscriminatorBce) {
  for (const auto& name : list("bce_cases")) {
    const std::string p = "bce." + name + ".";
    auto logits = get(p + "logits").requires_grad_(true);
    const auto res = discriminator_loss(logits, get(p + "is_student"));
    res.loss.backward();
    report(p + "loss", std::abs(scalar(res.loss) - get(p + "expected.loss").item<double>()));
    report(p + "grad_logits", max_abs_diff(logits.grad(), get(p + "expected.grad_logits")));
    report(p + "accuracy",
           std::abs(scalar(res.accuracy) - get(p + "expected.accuracy").item<double>()));
  }
}

TEST_F(AlgoReference, LinearSchedule) {
  const auto params = get("lr.linear.params");
  LrScheduleOptions opt;
  opt.kind = LrScheduleKind::kLinear;
  opt.start_lr = params[0].item<double>();
  opt.end_lr = params[1].item<double>();
  opt.total_steps = static_cast<int64_t>(params[2].item<double>());
  const LrSchedule schedule(opt);
  const auto expected = get("lr.linear.expected");
  std::vector<double> mine;
  for (int64_t s = 0; s < expected.size(0); ++s) mine.push_back(schedule.lr(s));
  report("lr.linear", max_abs_diff(torch::tensor(mine, torch::kFloat64), expected));
}

}  // namespace
}  // namespace ril::algo
