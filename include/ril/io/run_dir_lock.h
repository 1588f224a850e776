// One job per run directory: `<run-dir>/ril.lock` names the holder (PID, host, start time, Slurm
// job), so that a second `ril train` into the same directory stops at once with
//   run dir runs/x in use by PID 4242 on node07 since 2026-11-30 20:56:17 UTC (ril train, ...)
// instead of failing later on a locked metrics.h5 or interleaving checkpoints.
//
// Why a lock *file* created atomically, not flock/fcntl: run directories live on NFS and Lustre.
// fcntl locks there need lockd (NFSv3) or a Lustre mount with `-o flock`; under `-o localflock`
// they silently lock one node only, and under `noflock` they fail. Creating a name is atomic on
// all of them: the holder's record is written to `ril.lock.tmp.<pid>`, fsynced, then hard-linked
// to `ril.lock` (link() fails with EEXIST when the lock exists, and never exposes a half-written
// record; where hard links are not supported, open(O_CREAT|O_EXCL) is used). An atomic file
// survives the death of its holder, so a lock can be stale; it is taken over, with a warning
// naming the old holder and the reason, when
//   - the holder ran on this host (same host name) and its PID is gone, or is a zombie (exited but
//     not reaped: a PID 1 that does not reap orphans keeps it forever), or is exiting / being
//     killed, or now belongs to a process that started later (PID reuse), or the host has
//     rebooted since (another boot id);
//   - the holder ran on this host under an MPI launcher (mpirun, orted, hydra, slurmstepd: its
//     parent when it took the lock, recorded with its start time) and that launcher has ended: the
//     job is over (a rank of it was killed, mpirun tore it down and returned). Such a holder is
//     usually still exiting; the new job waits up to `exit_wait` for it to end, and takes the lock
//     over when it has, or when the wait runs out (logging that the old PID is still there);
//   - the holder is an earlier attempt of this Slurm job (same SLURM_JOB_ID, lower
//     SLURM_RESTART_COUNT: Slurm starts a requeued job only after the old one has ended);
//   - the holder ran on another host and has not refreshed the lock for `stale_after` (the holder
//     touches the lock's mtime every `heartbeat` from a background thread; both times come from
//     the file server's clock, so client clocks need not agree);
//   - `force` is set (a --force-unlock option: the user knows the holder is gone).
// A holder on this host that is running, with its launcher (if any) running, is watched for up to
// `live_wait` (it may be on its way out) and then refused.
// Otherwise the constructor throws ConfigError (exit 2). The destructor stops the heartbeat,
// removes the lock if it is still this holder's, and the run directory if the lock created it
// and it is empty (a job refused for bad input leaves nothing behind).
//
// Which ranks call: one rank per job (rank 0), which tells the others the verdict; the rest of
// the job must not open the lock file (fcntl-free, so nothing else would release it, but keep it
// simple). Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace ril::io {

struct RunDirLockOptions {
  std::string command;                      // recorded in the lock, e.g. "ril train"
  bool force = false;                       // take over any lock (with a warning)
  std::chrono::seconds heartbeat{60};       // how often the holder refreshes the lock's mtime
  std::chrono::seconds stale_after{600};    // another host's lock older than this is stale
  // How long to wait for a holder on this host to end: one whose launcher has ended (then the
  // lock is taken over even if it has not), and a running one (then it is refused).
  std::chrono::milliseconds exit_wait{15000};
  std::chrono::milliseconds live_wait{2000};
};

// The record in a lock file.
struct RunDirLockHolder {
  int64_t pid = 0;
  std::string host;
  std::string started;         // "2026-11-30 20:56:17 UTC"
  std::string boot_id;         // this host's boot when the lock was taken
  int64_t process_start = -1;  // ticks after boot (process_start_ticks)
  int64_t launcher_pid = 0;    // the MPI launcher that started the holder (its parent), 0: none
  int64_t launcher_start = -1; // its process_start_ticks
  std::string launcher;        // its name, e.g. "mpirun"
  std::string slurm_job;       // SLURM_JOB_ID, "" outside Slurm
  int64_t slurm_restart = 0;   // SLURM_RESTART_COUNT
  std::string command;
  std::string token;           // random: tells this holder's lock from a successor's

  std::string text() const;                            // the file's content (name=value lines)
  static RunDirLockHolder parse(const std::string& text);  // missing fields keep their defaults
  std::string describe() const;                        // "PID 4242 on node07 since ... (ril train)"
};

class RunDirLock {
 public:
  // Creates the run directory when needed and takes its lock; throws ConfigError when another
  // live job holds it, ril::Error when the directory cannot be written.
  RunDirLock(const std::string& run_dir, RunDirLockOptions options = {});
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  static std::string lock_path(const std::string& run_dir);  // <run_dir>/ril.lock
  const std::string& path() const { return path_; }
  const RunDirLockHolder& holder() const { return holder_; }
  // Why a stale lock was taken over ("" when there was none); also logged as a warning.
  const std::string& takeover() const { return takeover_; }

 private:
  class Heartbeat;
  std::string path_;
  RunDirLockHolder holder_;
  std::string takeover_;
  std::string created_dir_;  // the run dir, when this lock created it
  std::unique_ptr<Heartbeat> heartbeat_;
};

}  // namespace ril::io
