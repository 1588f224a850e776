// Errors: exceptions that carry context (values, shapes, paths, rank). main() catches them,
// logs once and ends the job so that no rank hangs (see src/apps/ril_main.cpp).
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
