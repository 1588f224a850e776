#include "ril/dist/mpi_context.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <thread>

#include "mpi_check.h"
#include "ril/common/process_info.h"

namespace ril::dist {
namespace {
// A duplicate of the world for agree_on_status(): its collectives never match a job's.
MPI_Comm g_status_comm = MPI_COMM_NULL;
}  // namespace

MpiContext::MpiContext(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    // FUNNELED: only the main thread calls MPI; LibTorch's own threads never do.
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  set_error_rank(rank_);
  prepare_status_agreement();
}

void prepare_status_agreement() {
  if (g_status_comm == MPI_COMM_NULL) MPI_Comm_dup(MPI_COMM_WORLD, &g_status_comm);
}

MpiContext::~MpiContext() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void abort_job(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort should not return; make sure of it
}

StatusVerdict agree_on_status(int code, std::chrono::milliseconds failed_wait) {
  const bool failed = code == 1 || code == 2;
  StatusVerdict verdict;
  verdict.code = code;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  // MIN over [failing rank * 4 + its code, -stopped]: the lowest failing rank wins and carries
  // its code along; any stopped rank turns the second entry to -3.
  int mine[2] = {failed ? rank * 4 + code : INT32_MAX, code == 3 ? -3 : 0};
  int all[2] = {INT32_MAX, 0};
  MPI_Request request = MPI_REQUEST_NULL;
  if (g_status_comm == MPI_COMM_NULL ||
      MPI_Iallreduce(mine, all, 2, MPI_INT, MPI_MIN, g_status_comm, &request) != MPI_SUCCESS) {
    verdict.report_here = failed;
    verdict.others_unreachable = failed;
    return verdict;
  }
  if (!failed) {
    MPI_Wait(&request, MPI_STATUS_IGNORE);
  } else {
    const auto deadline = std::chrono::steady_clock::now() + failed_wait;
    int done = 0;
    while (MPI_Test(&request, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!done) {
      verdict.report_here = true;
      verdict.others_unreachable = true;
      return verdict;
    }
  }
  if (all[0] != INT32_MAX) {
    verdict.code = all[0] % 4;
    verdict.report_here = all[0] / 4 == rank;
  } else {
    verdict.code = all[1] == -3 ? 3 : 0;
  }
  return verdict;
}

bool all_ranks_ok(bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  RIL_MPI_CHECK(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  return all == 1;
}

int lowest_rank_with(bool flag) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int mine = flag ? rank : INT32_MAX, lowest = 0;
  RIL_MPI_CHECK(MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  return lowest == INT32_MAX ? -1 : lowest;
}

void world_barrier() { RIL_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

std::string host_name() { return ril::host_name(); }

}  // namespace ril::dist
