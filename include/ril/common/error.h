// Errors: exceptions that carry context (values, shapes, paths, rank). main() catches them,
// prints one message once and ends the job with a documented exit code so that no rank hangs
// (see src/apps/ril_main.cpp and README "Exit codes").
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ril {

// A runtime failure: bad file, failed library call, broken invariant across ranks.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad user input found while reading options or the layout. Deterministic: every rank that
// parses the same command line reaches the same verdict, so the job can end without MPI_Abort.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what) : Error(what) {}
};

// The exit status of `ril` (and of `ril-data`), the same on every rank; documented in README
// "Exit codes" and used by the Slurm scripts in jobs/ (they requeue on kStoppedResumable only).
enum class ExitCode : int {
  kOk = 0,
  kRuntimeError = 1,      // a failure while working: damaged file, library call, broken invariant
  kBadInput = 2,          // options, layout or input files refused (ConfigError), nothing written
  kStoppedResumable = 3,  // stopped on SIGTERM/SIGUSR1 after writing a checkpoint: run it again to resume
};
inline int exit_status(ExitCode code) { return static_cast<int>(code); }

// `text` made safe for a terminal: control characters and bytes that are not valid UTF-8 become
// \xNN (\n and \t stay when `keep_newlines`), so a file's binary garbage echoed in a message
// cannot move the cursor, change colours or break a log line.
std::string printable(const std::string& text, bool keep_newlines = false);

// Streams its arguments into one string: ril::cat("shape ", n, "x", m).
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// Rank of this process in MPI_COMM_WORLD once MPI is up, -1 before; for error messages.
int error_rank();
void set_error_rank(int rank);

}  // namespace ril

// RIL_CHECK(cond, msg...): throws ril::Error "<msg> [check `cond` failed at file:line, rank r]".
#define RIL_CHECK(cond, ...)                                                              \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      throw ::ril::Error(::ril::cat(__VA_ARGS__, " [check `" #cond "` failed at ",        \
                                    __FILE__, ":", __LINE__, ", rank ",                   \
                                    ::ril::error_rank(), "]"));                           \
    }                                                                                     \
  } while (0)

#define RIL_CONFIG_CHECK(cond, ...)                                 \
  do {                                                              \
    if (!(cond)) throw ::ril::ConfigError(::ril::cat(__VA_ARGS__)); \
  } while (0)
