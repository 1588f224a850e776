#include "ril/common/stopwatch.h"

#include <cstdint>
#include <iomanip>
#include <sstream>

namespace ril {

std::string duration_text(double seconds) {
  const int64_t t = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream out;
  if (t >= 3600) out << t / 3600 << "h";
  if (t >= 60) out << std::setw(t >= 3600 ? 2 : 1) << std::setfill('0') << (t / 60) % 60 << "m";
  out << std::setw(t >= 60 ? 2 : 1) << std::setfill('0') << t % 60 << "s";
  return out.str();
}

}  // namespace ril
