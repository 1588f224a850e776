#include "ril/common/offload_mode.h"

#include "ril/common/error.h"

namespace ril {

OffloadMode parse_offload_mode(const std::string& text, const std::string& option) {
  if (text == "none") return OffloadMode::kNone;
  if (text == "optimizer") return OffloadMode::kOptimizer;
  if (text == "optimizer+model") return OffloadMode::kOptimizerAndModel;
  throw ConfigError(cat(option, " must be none, optimizer or optimizer+model, got '", text, "'"));
}

const char* offload_mode_name(OffloadMode mode) {
  switch (mode) {
    case OffloadMode::kNone: return "none";
    case OffloadMode::kOptimizer: return "optimizer";
    case OffloadMode::kOptimizerAndModel: return "optimizer+model";
  }
  return "?";
}

}  // namespace ril
