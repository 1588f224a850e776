// Fault-injection steps from the environment (common/fault_injection.h): a list is read as
// written, and a typo is an error rather than a fault silently not injected.
#include "ril/common/fault_injection.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "ril/common/error.h"

namespace {

constexpr const char* kVar = "RIL_TEST_FAULT_STEPS";

TEST(FaultInjection, ReadsTheListedSteps) {
  ::unsetenv(kVar);
  EXPECT_TRUE(ril::fault_steps(kVar).empty());
  ::setenv(kVar, "3,1,,3", 1);
  EXPECT_EQ(ril::fault_steps(kVar), (std::set<int64_t>{1, 3}));
  for (const char* bad : {"2x", "0", "-1", "two"}) {
    ::setenv(kVar, bad, 1);
    EXPECT_THROW(ril::fault_steps(kVar), ril::ConfigError) << bad;
  }
  ::unsetenv(kVar);
}

}  // namespace
