// All ranks agree, or every rank throws the same error. For verdicts that one rank (or a few)
// reaches on its own, e.g. the rank that reads a file: without agreement the others would go on
// into the next collective and wait there forever.
// Which ranks call: every member of `comm` (collective; a host communicator is enough).
#pragma once

#include <string>

#include "ril/dist/communicator.h"

namespace ril::dist {

enum class ErrorKind {
  kConfig,   // ConfigError: bad input, the job ends cleanly with exit status 2
  kRuntime,  // ril::Error
};

// If any member's `error` is non-empty, every member throws (kind) with the text of the lowest
// such rank, prefixed by `prefix`. Returns normally on every member otherwise.
void agree_or_throw(Communicator& comm, const std::string& error, ErrorKind kind = ErrorKind::kConfig,
                    const std::string& prefix = "");

}  // namespace ril::dist
