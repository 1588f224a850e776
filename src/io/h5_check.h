// Private to src/io: the one check macro for HDF5 calls. HDF5 reports failure by a negative
// return (herr_t/hid_t/htri_t); its own error-stack printing is switched off and the stack is
// folded into the exception instead, so the user sees one message with the cause.
#pragma once

#include <hdf5.h>

#include <string>

#include "ril/common/error.h"

namespace ril::io::detail {

// Turns off HDF5's automatic stack printing (once per process).
void silence_hdf5_errors();
// The innermost-to-outermost HDF5 error descriptions, "; "-joined.
std::string hdf5_error_stack();
[[noreturn]] void throw_h5_error(const char* expr, const std::string& context, const char* file, int line);

}  // namespace ril::io::detail

// RIL_H5_CHECK(expr, context): evaluates expr once; throws if negative. `context` is usually
// the file path and object name; returns the value (a handle) otherwise.
#define RIL_H5_CHECK(expr, context)                                                        \
  ([&]() {                                                                                 \
    auto ril_h5_value_ = (expr);                                                           \
    if (ril_h5_value_ < 0) ::ril::io::detail::throw_h5_error(#expr, (context), __FILE__, __LINE__); \
    return ril_h5_value_;                                                                  \
  }())
