#include "ril/common/process_info.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

namespace ril {
namespace {

constexpr uint64_t kPfExiting = 0x4;  // PF_EXITING in /proc/PID/stat's flags (field 9): in do_exit()

// The fields of /proc/PID/stat from field 3 (the state) on; empty when unreadable.
// "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields resume after the last ')'.
std::vector<std::string> stat_fields(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return {};
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(text.substr(close + 1));
  std::vector<std::string> out;
  for (std::string field; fields >> field;) out.push_back(field);
  return out;
}

// Field `index` (1-based, as in proc(5)) of stat_fields' result, or "".
const std::string& stat_field(const std::vector<std::string>& fields, size_t index) {
  static const std::string none;
  return index >= 3 && index - 3 < fields.size() ? fields[index - 3] : none;
}

// From /proc/PID/status: SIGKILL pending (SigPnd: the main thread's, ShdPnd: the process's) and
// the number of threads (-1 when unknown).
struct StatusFacts {
  bool sigkill_pending = false;
  int64_t threads = -1;
};
StatusFacts status_facts(int64_t pid) {
  StatusFacts facts;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    try {
      if (line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0) {
        if (std::stoull(line.substr(7), nullptr, 16) & (uint64_t{1} << (SIGKILL - 1))) facts.sigkill_pending = true;
      } else if (line.rfind("Threads:", 0) == 0) {
        facts.threads = std::stoll(line.substr(8));
      }
    } catch (const std::exception&) {
    }
  }
  return facts;
}

}  // namespace

std::string host_name() {
  char name[256] = {0};
  ::gethostname(name, sizeof name - 1);
  return name;
}

ProcessState process_state(int64_t pid, std::string* detail) {
  if (pid <= 0) return ProcessState::kGone;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return ProcessState::kGone;
  const std::vector<std::string> fields = stat_fields(pid);
  const std::string& state = stat_field(fields, 3);
  const auto ended = [&](const char* why) {
    if (detail != nullptr) *detail = why;
    return ProcessState::kEnded;
  };
  // The main thread's state and flags stand for the process (ril never ends its main thread
  // alone; a zombie main thread beside live threads still counts as running).
  const StatusFacts facts = status_facts(pid);
  if ((state == "Z" || state == "X" || state == "x") && facts.threads <= 1) {
    return ended("a zombie: it has exited and its parent has not reaped it");
  }
  try {
    const std::string& flags = stat_field(fields, 9);
    if (!flags.empty() && (std::stoull(flags) & kPfExiting) != 0) return ended("it is exiting");
  } catch (const std::exception&) {
  }
  if (facts.sigkill_pending) return ended("it is being killed (SIGKILL pending)");
  return ProcessState::kRunning;
}

bool process_alive(int64_t pid) { return process_state(pid) == ProcessState::kRunning; }

int64_t process_start_ticks(int64_t pid) {
  const std::string& start = stat_field(stat_fields(pid), 22);
  if (start.empty()) return -1;
  try {
    return std::stoll(start);
  } catch (const std::exception&) {
    return -1;
  }
}

std::string process_name(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (!in || !std::getline(in, name)) return "";
  return name;
}

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!in || !std::getline(in, id)) return "";
  return id;
}

}  // namespace ril
