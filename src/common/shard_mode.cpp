#include "ril/common/shard_mode.h"

#include "ril/common/error.h"

namespace ril {

ShardMode parse_shard_mode(const std::string& text, const std::string& option) {
  if (text == "none") return ShardMode::kNone;
  if (text == "optimizer") return ShardMode::kOptimizer;
  if (text == "gradients") return ShardMode::kGradients;
  throw ConfigError(cat(option, " must be none, optimizer or gradients, got '", text, "'"));
}

const char* shard_mode_name(ShardMode mode) {
  switch (mode) {
    case ShardMode::kNone: return "none";
    case ShardMode::kOptimizer: return "optimizer";
    case ShardMode::kGradients: return "gradients";
  }
  return "?";
}

}  // namespace ril
