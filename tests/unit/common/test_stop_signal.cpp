// Stop signals: SIGUSR1 and SIGTERM only set the flag (the process lives on), the first one wins,
// installing twice is harmless, and the reset clears it; other signals keep their default action.
// Signals are raised in this process (a missing handler would end the test run) or, where the
// outcome is the process's fate, in a forked child (death tests).
#include <gtest/gtest.h>

#include <unistd.h>

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

// Observed through the dispositions ril leaves: its handler (with SA_RESTART) on TERM and USR1,
// nothing else touched.
TEST_F(StopSignalTest, HandlersAreInstalledOnTermAndUsr1Only) {
  for (int signal_number : {SIGTERM, SIGUSR1}) {
    struct sigaction now {};
    ASSERT_EQ(sigaction(signal_number, nullptr, &now), 0);
    EXPECT_NE(now.sa_handler, SIG_DFL) << signal_number;
    EXPECT_NE(now.sa_handler, SIG_IGN) << signal_number;
    EXPECT_TRUE(now.sa_flags & SA_RESTART) << signal_number;
  }
  struct sigaction term {}, usr1 {};
  sigaction(SIGTERM, nullptr, &term);
  sigaction(SIGUSR1, nullptr, &usr1);
  EXPECT_EQ(term.sa_handler, usr1.sa_handler);  // the same (ril's) handler on both
}

// In a child process (gtest death tests fork): a signal that is not a stop request keeps its
// default action and ends the process, ril's handlers installed or not.
TEST_F(StopSignalTest, OtherSignalsAreNotStopRequests) {
  EXPECT_EXIT(
      {
        std::signal(SIGUSR2, SIG_DFL);
        ril::install_stop_signal_handlers();
        std::raise(SIGUSR2);
        _exit(ril::stop_signal_received() ? 3 : 4);  // reached only if SIGUSR2 was swallowed
      },
      ::testing::KilledBySignal(SIGUSR2), "");
}

// In a child process: SIGTERM sent by another party (kill, as Slurm does) is recorded and the
// process lives on; without ril's handler the child would die of it.
TEST_F(StopSignalTest, TermFromOutsideIsRecordedAndTheProcessLivesOn) {
  EXPECT_EXIT(
      {
        ril::reset_stop_signal_for_tests();
        ::kill(::getpid(), SIGTERM);
        _exit(ril::stop_signal_number() == SIGTERM ? 0 : 5);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
