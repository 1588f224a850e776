// Paired bootstrap intervals, checked against closed forms: with many questions the percentile
// interval of a mean approaches mean +- z * sd / sqrt(n) (central limit theorem), which is an
// independent computation of the same quantity.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ril/algo/paired_bootstrap.h"
#include "ril/common/error.h"

namespace ril::algo {
namespace {

TEST(PairedBootstrap, IdenticalOutcomesGiveAZeroWidthInterval) {
  const std::vector<double> a = {1, 0, 1, 1, 0, 0, 1};
  const BootstrapInterval r = paired_bootstrap(a, a);
  EXPECT_EQ(r.difference, 0.0);
  EXPECT_EQ(r.low, 0.0);
  EXPECT_EQ(r.high, 0.0);
  EXPECT_FALSE(r.excludes_zero());
  EXPECT_EQ(r.n, 7);
}

TEST(PairedBootstrap, MatchesTheNormalApproximationForManyQuestions) {
  // n = 2000 questions; A right with p 0.6, B with 0.5, correlated through a shared difficulty.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t n = 2000;
  std::vector<double> a(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    const double easy = u(rng);
    a[i] = easy < 0.6 ? 1.0 : 0.0;
    b[i] = (easy < 0.45 || u(rng) < 0.1) ? 1.0 : 0.0;
  }
  double mean = 0, sq = 0;
  for (size_t i = 0; i < n; ++i) mean += a[i] - b[i];
  mean /= n;
  for (size_t i = 0; i < n; ++i) sq += (a[i] - b[i] - mean) * (a[i] - b[i] - mean);
  const double se = std::sqrt(sq / (n - 1)) / std::sqrt(static_cast<double>(n));
  const BootstrapInterval r = paired_bootstrap(a, b, {20000, 0.95, 3});
  EXPECT_DOUBLE_EQ(r.difference, mean);
  std::printf("diff %.4f, bootstrap [%.4f, %.4f], normal [%.4f, %.4f]\n", r.difference, r.low, r.high,
              mean - 1.959964 * se, mean + 1.959964 * se);
  EXPECT_NEAR(r.low, mean - 1.959964 * se, 0.15 * 1.96 * se);
  EXPECT_NEAR(r.high, mean + 1.959964 * se, 0.15 * 1.96 * se);
  EXPECT_TRUE(r.excludes_zero());
}

TEST(PairedBootstrap, PairingNarrowsTheIntervalOfCorrelatedOutcomes) {
  // B = A except on 10 of 400 questions, where A is right and B wrong: a small but certain gain.
  std::vector<double> a(400), b(400);
  for (size_t i = 0; i < 400; ++i) a[i] = b[i] = (i % 2 == 0) ? 1.0 : 0.0;
  for (size_t i = 1; i < 20; i += 2) a[i] = 1.0;
  const BootstrapInterval r = paired_bootstrap(a, b);
  EXPECT_DOUBLE_EQ(r.difference, 10.0 / 400.0);
  EXPECT_GT(r.low, 0.0) << "the 10 wins are never offset by a loss, so no resample can go below 0";
  EXPECT_LT(r.high, 0.06);
}

TEST(PairedBootstrap, SeededAndDeterministic) {
  const std::vector<double> a = {1, 1, 0, 1, 0, 1, 1, 0, 1, 1}, b = {0, 1, 0, 0, 0, 1, 0, 0, 1, 0};
  const BootstrapInterval r1 = paired_bootstrap(a, b), r2 = paired_bootstrap(a, b);
  EXPECT_EQ(r1.low, r2.low);
  EXPECT_EQ(r1.high, r2.high);
  EXPECT_LE(r1.low, r1.difference);
  EXPECT_GE(r1.high, r1.difference);
}

TEST(PairedBootstrap, RunsAverageOverSeeds) {
  // Two runs of A (one right on every question, one wrong on every question) average to 0.5;
  // B is always 0.5 by construction of its two runs: no difference at all.
  const std::vector<std::vector<double>> a = {{1, 1, 1, 1}, {0, 0, 0, 0}};
  const std::vector<std::vector<double>> b = {{1, 0, 1, 0}, {0, 1, 0, 1}};
  const BootstrapInterval r = paired_bootstrap_runs(a, b);
  EXPECT_EQ(r.difference, 0.0);
  EXPECT_EQ(r.low, 0.0);
  EXPECT_EQ(r.high, 0.0);
}

TEST(PairedBootstrap, BadInputIsAnError) {
  EXPECT_THROW(paired_bootstrap({1, 0}, {1}), Error);
  EXPECT_THROW(paired_bootstrap({}, {}), Error);
  EXPECT_THROW(paired_bootstrap({1}, {0}, {1, 0.95, 1}), Error);
  EXPECT_THROW(paired_bootstrap({1}, {0}, {100, 1.5, 1}), Error);
  EXPECT_THROW(paired_bootstrap_runs({{1, 0}, {1}}, {{0, 0}}), Error);
}

}  // namespace
}  // namespace ril::algo
