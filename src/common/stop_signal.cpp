#include "ril/common/stop_signal.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include "ril/common/error.h"

namespace ril {
namespace {

// A lock-free atomic is the only shared state a signal handler may touch (C++17 [support.signal]).
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag must be lock-free for a signal handler");
std::atomic<int> g_first_signal{0};
std::atomic<bool> g_stopped_with_checkpoint{false};

extern "C" void on_stop_signal(int signal_number) {
  int none = 0;
  // The first signal wins; later ones (a TERM after the USR1 warning) leave it as it is.
  g_first_signal.compare_exchange_strong(none, signal_number);
}

void install_one(int signal_number) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: blocking reads, writes and MPI's polling resume after the handler instead of
  // failing with EINTR in code that does not expect it.
  action.sa_flags = SA_RESTART;
  if (::sigaction(signal_number, &action, nullptr) != 0) {
    throw Error(cat("sigaction(", strsignal(signal_number), ") failed: ", std::strerror(errno), " [rank ",
                    error_rank(), "]"));
  }
}

}  // namespace

void install_stop_signal_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    install_one(SIGTERM);
    install_one(SIGUSR1);
  });
}

bool stop_signal_received() { return g_first_signal.load() != 0; }

int stop_signal_number() { return g_first_signal.load(); }

void note_stopped_with_checkpoint() { g_stopped_with_checkpoint.store(true); }

bool stopped_with_checkpoint() { return g_stopped_with_checkpoint.load(); }

void reset_stop_signal_for_tests() {
  g_first_signal.store(0);
  g_stopped_with_checkpoint.store(false);
}

}  // namespace ril
