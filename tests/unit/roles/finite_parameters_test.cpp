// The non-finite parameter guard (roles/finite_parameters.h) names the first bad parameter, for
// NaN, +inf and -inf alike, and passes finite ones (large values included).
#include "ril/roles/finite_parameters.h"

#include <gtest/gtest.h>

#include <limits>

#include <torch/torch.h>

namespace ril::roles {
namespace {

TEST(FiniteParameters, NamesTheFirstNonFiniteParameter) {
  io::NamedTensors params = {{"a.weight", torch::full({3, 4}, 3.0e38F)},
                             {"b.bias", torch::zeros({5})},
                             {"c.weight", torch::ones({2, 2})}};
  EXPECT_EQ(first_non_finite(params), "");
  EXPECT_EQ(first_non_finite({}), "");
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    io::NamedTensors p = {{"a.weight", torch::ones({3, 4})}, {"b.bias", torch::zeros({5})},
                          {"c.weight", torch::ones({2, 2})}};
    p[2].second[1][1] = bad;
    EXPECT_EQ(first_non_finite(p), "c.weight") << bad;
    p[1].second[4] = bad;
    EXPECT_EQ(first_non_finite(p), "b.bias") << bad;
  }
  // The overflow the guard exists for: a finite step that leaves the float range.
  torch::Tensor w = torch::full({2}, 3.0e38F);
  w.mul_(10.0);
  EXPECT_EQ(first_non_finite({{"w", w}}), "w");
}

}  // namespace
}  // namespace ril::roles
