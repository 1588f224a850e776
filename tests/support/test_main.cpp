// GoogleTest main shared by every test executable. Initialises MPI so that code which needs a
// world communicator works under plain execution (1 rank) and under mpirun; only rank 0 prints
// GoogleTest's progress so that 4 ranks do not print 4 reports.
#include <gtest/gtest.h>
#include <mpi.h>

#include "ril/common/error.h"

namespace {
// On ranks other than 0: print failed assertions only, each prefixed with the rank.
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    fprintf(stderr, "[rank %d] %s.%s failed at %s:%d\n%s\n", rank_, test ? test->test_suite_name() : "?",
            test ? test->name() : "?", result.file_name() ? result.file_name() : "?", result.line_number(),
            result.message());
  }

 private:
  int rank_;
};
}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  ril::set_error_rank(rank);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  const int local_failed = RUN_ALL_TESTS();
  // Any rank's failure fails the whole run (rank 0's exit code is what ctest sees first).
  int any_failed = 0;
  MPI_Allreduce(&local_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (local_failed && rank != 0) {
    fprintf(stderr, "rank %d: %d test(s) failed on this rank\n", rank, local_failed);
  }
  MPI_Finalize();
  return any_failed ? 1 : 0;
}
