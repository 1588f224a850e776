// MPI for the whole process: MpiContext initialises MPI in main() and finalises it at scope
// exit. abort_job() ends every rank of the job (MPI_Abort) so that none is left waiting.
#pragma once

#include <string>

namespace ril::dist {

class MpiContext {
 public:
  MpiContext(int* argc, char*** argv);
  ~MpiContext();
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
};

// MPI_Abort(MPI_COMM_WORLD, code): does not return.
[[noreturn]] void abort_job(int code);
// True when every rank's `ok` is true (MPI_Allreduce over the world); collective.
bool all_ranks_ok(bool ok);
// The lowest world rank whose `flag` is set, or -1; collective.
int lowest_rank_with(bool flag);
void world_barrier();
std::string host_name();

}  // namespace ril::dist
