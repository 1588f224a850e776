// dist::agree_on_status across real MPI processes (ctest: mpirun -np 1, 2, 3, 4): the job's exit
// status is the lowest failing rank's (which alone reports), else 3 when any rank stopped with a
// checkpoint, else 0; every rank learns the same verdict.
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <thread>

#include "ril/dist/mpi_context.h"

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

}  // namespace

TEST(StatusAgreement, EveryRankLearnsOneVerdict) {
  ril::dist::prepare_status_agreement();
  const int rank = world_rank(), size = world_size();

  ril::dist::StatusVerdict v = ril::dist::agree_on_status(0);
  EXPECT_EQ(v.code, 0);
  EXPECT_FALSE(v.report_here);

  // The last rank stopped on a signal with a checkpoint: resumable everywhere.
  v = ril::dist::agree_on_status(rank == size - 1 ? 3 : 0);
  EXPECT_EQ(v.code, 3);
  EXPECT_FALSE(v.report_here);

  // The last rank has bad input, every rank from 1 on a runtime error: the lowest failing rank
  // (1, or 0 alone) reports, with its own code; the stop of another rank does not hide it.
  const int failing = size > 1 ? 1 : 0;
  const int mine = rank == size - 1 && size > 2 ? 2 : (rank >= failing && size > 1 ? 1 : (size == 1 ? 2 : 3));
  v = ril::dist::agree_on_status(mine);
  const int expected = size == 1 ? 2 : 1;
  EXPECT_EQ(v.code, expected) << "rank " << rank << " brought " << mine;
  EXPECT_EQ(v.report_here, rank == failing);
  EXPECT_FALSE(v.others_unreachable);

  // A failed rank that arrives late is still waited for by the others (no timeout for them);
  // it joins within its own wait.
  if (rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  v = ril::dist::agree_on_status(rank == 0 ? 2 : 0, std::chrono::seconds(30));
  EXPECT_EQ(v.code, 2);
  EXPECT_EQ(v.report_here, rank == 0);
  EXPECT_FALSE(v.others_unreachable);
}
