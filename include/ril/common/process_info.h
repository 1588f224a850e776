// Facts about processes on this host, for locks and temporary files left by killed writers
// (io/run_dir_lock.h, io/atomic_file.h). Linux: /proc and kill(pid, 0). Which ranks call: any.
#pragma once

#include <cstdint>
#include <string>

namespace ril {

std::string host_name();  // gethostname(), as the job's role map prints it

// True when a process with this id exists on this host (a zombie counts; EPERM counts: it exists
// under another user).
bool process_alive(int64_t pid);

// When the process started, in clock ticks after boot (/proc/PID/stat field 22), or -1 when
// unknown. With the boot id it tells a live process from a later one that reuses its PID.
int64_t process_start_ticks(int64_t pid);

// This boot of this host (/proc/sys/kernel/random/boot_id), or "" when unknown.
std::string boot_id();

}  // namespace ril
