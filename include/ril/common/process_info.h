// Facts about processes on this host, for locks and temporary files left by killed writers
// (io/run_dir_lock.h, io/atomic_file.h). Linux: /proc and kill(pid, 0). Which ranks call: any.
#pragma once

#include <cstdint>
#include <string>

namespace ril {

std::string host_name();  // gethostname(), as the job's role map prints it

// What a process id stands for on this host.
enum class ProcessState {
  kGone,     // no such process
  kEnded,    // it exists but will run no more of its own code: a zombie (exited, not yet reaped
             // by its parent, e.g. under a PID 1 that does not reap orphans), a process in the
             // kernel's exit path, or one with SIGKILL pending
  kRunning,  // anything else (also when it exists under another user and /proc does not say more)
};
// `detail` (optional) receives why a process counts as ended: "a zombie: it has exited and its
// parent has not reaped it", "it is exiting", "it is being killed (SIGKILL pending)".
ProcessState process_state(int64_t pid, std::string* detail = nullptr);

// True when a process with this id exists on this host and can still run code
// (process_state() == kRunning): a zombie or a process already exiting is not alive.
bool process_alive(int64_t pid);

// When the process started, in clock ticks after boot (/proc/PID/stat field 22), or -1 when
// unknown. With the boot id it tells a live process from a later one that reuses its PID.
int64_t process_start_ticks(int64_t pid);

// The process's command name (/proc/PID/comm, e.g. "mpirun"), or "" when unknown.
std::string process_name(int64_t pid);

// This boot of this host (/proc/sys/kernel/random/boot_id), or "" when unknown.
std::string boot_id();

}  // namespace ril
