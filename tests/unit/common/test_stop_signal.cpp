// Stop signals: SIGUSR1 and SIGTERM only set the flag (the process lives on), the first one wins,
// installing twice is harmless, and the reset clears it. Signals are raised in this process.
#include <gtest/gtest.h>

#include <csignal>

#include "ril/common/stop_signal.h"

namespace {

class StopSignalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ril::install_stop_signal_handlers();
    ril::reset_stop_signal_for_tests();
  }
  void TearDown() override { ril::reset_stop_signal_for_tests(); }
};

TEST_F(StopSignalTest, NoneBeforeASignal) {
  EXPECT_FALSE(ril::stop_signal_received());
  EXPECT_EQ(ril::stop_signal_number(), 0);
}

TEST_F(StopSignalTest, Usr1SetsTheFlag) {
  ASSERT_EQ(std::raise(SIGUSR1), 0);  // without the handler this would end the test process
  EXPECT_TRUE(ril::stop_signal_received());
  EXPECT_EQ(ril::stop_signal_number(), SIGUSR1);
}

TEST_F(StopSignalTest, TermSetsTheFlag) {
  ASSERT_EQ(std::raise(SIGTERM), 0);
  EXPECT_TRUE(ril::stop_signal_received());
  EXPECT_EQ(ril::stop_signal_number(), SIGTERM);
}

TEST_F(StopSignalTest, TheFirstSignalWins) {
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  ASSERT_EQ(std::raise(SIGTERM), 0);
  EXPECT_EQ(ril::stop_signal_number(), SIGUSR1);
}

TEST_F(StopSignalTest, InstallingTwiceKeepsTheHandlersAndTheFlag) {
  ASSERT_EQ(std::raise(SIGTERM), 0);
  ril::install_stop_signal_handlers();
  EXPECT_EQ(ril::stop_signal_number(), SIGTERM);
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  EXPECT_EQ(ril::stop_signal_number(), SIGTERM);
}

TEST_F(StopSignalTest, ResetClearsTheFlag) {
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  ril::reset_stop_signal_for_tests();
  EXPECT_FALSE(ril::stop_signal_received());
  EXPECT_EQ(ril::stop_signal_number(), 0);
  ASSERT_EQ(std::raise(SIGTERM), 0);  // and the next signal is recorded again
  EXPECT_EQ(ril::stop_signal_number(), SIGTERM);
}

TEST_F(StopSignalTest, OtherSignalsAreNotStopRequests) {
  struct sigaction old;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGUSR2, &ignore, &old), 0);
  ASSERT_EQ(std::raise(SIGUSR2), 0);
  sigaction(SIGUSR2, &old, nullptr);
  EXPECT_FALSE(ril::stop_signal_received());
}

}  // namespace
