#include "ril/algo/paired_bootstrap.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "ril/common/error.h"

namespace ril::algo {
namespace {

// Quantile q of sorted values, linear interpolation between order statistics.
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Per-question differences between the mean over A's runs and the mean over B's runs.
std::vector<double> run_mean_differences(const std::vector<std::vector<double>>& a_runs,
                                         const std::vector<std::vector<double>>& b_runs) {
  RIL_CHECK(!a_runs.empty() && !b_runs.empty(), "paired bootstrap: no runs");
  const size_t n = a_runs.front().size();
  RIL_CHECK(n > 0, "paired bootstrap: no questions");
  std::vector<double> d(n, 0.0);
  for (const auto* runs : {&a_runs, &b_runs}) {
    const double sign = runs == &a_runs ? 1.0 : -1.0;
    for (const std::vector<double>& run : *runs) {
      RIL_CHECK(run.size() == n, "paired bootstrap: runs answered different numbers of questions (", run.size(),
                " vs ", n, ")");
      for (size_t i = 0; i < n; ++i) d[i] += sign * run[i] / static_cast<double>(runs->size());
    }
  }
  return d;
}

}  // namespace

BootstrapInterval paired_bootstrap_runs(const std::vector<std::vector<double>>& a_runs,
                                        const std::vector<std::vector<double>>& b_runs,
                                        const BootstrapOptions& options) {
  RIL_CHECK(options.resamples >= 2, "paired bootstrap: resamples must be >= 2, got ", options.resamples);
  RIL_CHECK(options.level > 0.0 && options.level < 1.0, "paired bootstrap: level must be in (0, 1), got ",
            options.level);
  const std::vector<double> d = run_mean_differences(a_runs, b_runs);
  const size_t n = d.size();
  BootstrapInterval out;
  out.n = static_cast<int64_t>(n);
  for (double v : d) out.difference += v;
  out.difference /= static_cast<double>(n);
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> means(static_cast<size_t>(options.resamples));
  for (double& m : means) {
    double sum = 0.0;
    for (size_t k = 0; k < n; ++k) sum += d[pick(rng)];
    m = sum / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  out.low = quantile(means, (1.0 - options.level) / 2.0);
  out.high = quantile(means, (1.0 + options.level) / 2.0);
  return out;
}

BootstrapInterval paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b,
                                   const BootstrapOptions& options) {
  RIL_CHECK(a.size() == b.size(), "paired bootstrap: ", a.size(), " outcomes for A but ", b.size(), " for B");
  return paired_bootstrap_runs({a}, {b}, options);
}

}  // namespace ril::algo
