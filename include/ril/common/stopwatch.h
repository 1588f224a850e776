// Elapsed wall time for progress lines and per-group timings: one steady clock, one format.
// Which ranks call: any.
#pragma once

#include <chrono>
#include <string>

namespace ril {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  // Seconds since construction or the last restart().
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  void restart() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Whole seconds as "7s", "3m05s", "2h03m05s" (rounded to the nearest second).
std::string duration_text(double seconds);

}  // namespace ril
