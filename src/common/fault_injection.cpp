#include "ril/common/fault_injection.h"

#include <cstdlib>
#include <sstream>
#include <string>

#include "ril/common/error.h"

namespace ril {

std::set<int64_t> fault_steps(const char* env_name) {
  std::set<int64_t> out;
  const char* env = std::getenv(env_name);
  if (env == nullptr) return out;
  std::stringstream in(env);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    size_t used = 0;
    int64_t step = 0;
    try {
      step = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    RIL_CONFIG_CHECK(used == item.size() && step >= 1, env_name, ": '", printable(item), "' is not a step number (>= 1)");
    out.insert(step);
  }
  return out;
}

}  // namespace ril
