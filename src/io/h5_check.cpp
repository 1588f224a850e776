#include "h5_check.h"

#include <mutex>

namespace ril::io::detail {

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {
herr_t collect_error(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::string*>(client);
  if (n >= 4) return 0;  // the innermost few frames carry the cause; the rest is plumbing
  if (!out->empty()) out->append("; ");
  out->append(err->desc ? err->desc : "?");
  out->append(" (").append(err->func_name ? err->func_name : "?").append(")");
  return 0;
}
}  // namespace

std::string hdf5_error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "no HDF5 error stack" : text;
}

void throw_h5_error(const char* expr, const std::string& context, const char* file, int line) {
  const std::string stack = hdf5_error_stack();
  throw Error(cat("HDF5 call failed for ", context, ": ", stack, " [", expr, " at ", file, ":", line,
                  ", rank ", error_rank(), "]"));
}

}  // namespace ril::io::detail
