// Helpers shared by the algo tests.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

namespace ril::algo::testing {

inline std::string fixtures_dir() {
  const char* env = std::getenv("RIL_FIXTURES");
  if (env != nullptr && *env != '\0') return std::string(env) + "/algo";
  const char* src = std::getenv("RIL_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/tests/fixtures/algo";
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.numel() == 0) return 0.0;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

inline double scalar(const torch::Tensor& t) { return t.to(torch::kFloat64).item<double>(); }

}  // namespace ril::algo::testing
