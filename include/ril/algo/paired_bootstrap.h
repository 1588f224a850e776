// Paired bootstrap interval of a difference in accuracy: how sure is "model A answers more
// questions right than model B" when both answered the same questions?
// For questions i = 1..n with outcomes a_i, b_i (1 right, 0 wrong; any reals work), the
// statistic is mean(a - b). Each resample draws n question indices with replacement and takes
// the mean difference over them; the interval is the (1 - level)/2 and (1 + level)/2 quantiles
// of the resampled means (percentile method, linear interpolation between order statistics).
// Pairing keeps each question's two outcomes together, so question difficulty cancels out.
// Deterministic for a given seed (std::mt19937_64); no torch, no communication.
#pragma once

#include <cstdint>
#include <vector>

namespace ril::algo {

struct BootstrapOptions {
  int64_t resamples = 10000;
  double level = 0.95;     // two-sided coverage of the interval
  uint64_t seed = 20251022;
};

struct BootstrapInterval {
  double difference = 0.0;  // mean(a - b) over the n questions
  double low = 0.0, high = 0.0;
  int64_t n = 0;
  bool excludes_zero() const { return low > 0.0 || high < 0.0; }
};

// Throws ril::Error when a and b differ in length or are empty, or on bad options.
BootstrapInterval paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b,
                                   const BootstrapOptions& options = {});

// The same over groups of runs: outcome[r][i] of run r on question i, for several seeds of each
// configuration. Each resample draws questions with replacement (the same draw for every run)
// and compares the MEAN over A's runs with the mean over B's runs, so the interval covers
// question sampling; the spread between seeds enters through the run means.
BootstrapInterval paired_bootstrap_runs(const std::vector<std::vector<double>>& a_runs,
                                        const std::vector<std::vector<double>>& b_runs,
                                        const BootstrapOptions& options = {});

}  // namespace ril::algo
