// MPI for the whole process: MpiContext initialises MPI in main() and finalises it at scope
// exit. agree_on_status() lets the ranks end a job together with one exit status and one message;
// abort_job() ends every rank of the job (MPI_Abort) when a rank cannot reach the others.
#pragma once

#include <chrono>
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

// MPI_Abort(MPI_COMM_WORLD, code): does not return. The last resort: OpenMPI kills every rank
// and prints its own notes; see agree_on_status() for the clean way out.
[[noreturn]] void abort_job(int code);

// The verdict of agree_on_status().
struct StatusVerdict {
  int code = 0;                     // the job's status, the same on every rank that returns
  bool report_here = false;         // this rank is the lowest failing one: it prints its error, once
  bool others_unreachable = false;  // this rank failed and the others did not join in time: print the
                                    // error here, then abort_job(code) (they may wait in a collective)
};

// Collective over MPI_COMM_WORLD (its own communicator, so it never matches a job's messages):
// every rank brings its status (ril::ExitCode: 0 ok, 1 runtime error, 2 bad input, 3 stopped and
// resumable). The job's status is that of the lowest failing rank (1 or 2), else 3 when any rank
// stopped on a signal, else 0. A rank without error waits as long as it takes; a failed rank waits
// at most `failed_wait` for the others (they may be blocked in a collective with it, never to
// arrive) and then reports others_unreachable. Every rank must call it the same number of times.
// MpiContext prepares it (prepare_status_agreement(): collective, idempotent; for code that
// initialised MPI itself, such as the test main).
StatusVerdict agree_on_status(int code, std::chrono::milliseconds failed_wait = std::chrono::seconds(5));
void prepare_status_agreement();
// True when every rank's `ok` is true (MPI_Allreduce over the world); collective.
bool all_ranks_ok(bool ok);
// The lowest world rank whose `flag` is set, or -1; collective.
int lowest_rank_with(bool flag);
void world_barrier();
std::string host_name();

}  // namespace ril::dist
