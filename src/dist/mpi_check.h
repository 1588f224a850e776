// Private to src/dist: the one check macro for MPI calls. Communicators are set to
// MPI_ERRORS_RETURN, so a failing call returns a code that becomes a ril::Error with the
// expression, MPI's error string, file:line and rank.
#pragma once

#include <mpi.h>

#include <string>

#include "ril/common/error.h"

namespace ril::dist::detail {
[[noreturn]] void throw_mpi_error(int code, const char* expr, const char* file, int line);
}

#define RIL_MPI_CHECK(expr)                                                               \
  do {                                                                                    \
    const int ril_mpi_rc_ = (expr);                                                       \
    if (ril_mpi_rc_ != MPI_SUCCESS) ::ril::dist::detail::throw_mpi_error(ril_mpi_rc_, #expr, __FILE__, __LINE__); \
  } while (0)
