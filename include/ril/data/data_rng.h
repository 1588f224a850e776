// A small deterministic random generator for data generation. std::uniform_int_distribution
// and friends are implementation-defined, so a dataset generated with libstdc++ would differ
// from one generated with libc++; this generator gives the same stream everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ril::data {

class DataRng {
 public:
  explicit DataRng(uint64_t seed);

  uint64_t next();                  // xoshiro256** step
  int64_t uniform_int(int64_t lo, int64_t hi);  // inclusive bounds, unbiased (rejection)
  double uniform01();               // [0, 1)
  bool coin(double p_true = 0.5);

  template <typename T>
  const T& pick(const std::vector<T>& values) {
    return values[static_cast<size_t>(uniform_int(0, static_cast<int64_t>(values.size()) - 1))];
  }
  template <typename T>
  void shuffle(std::vector<T>& values) {  // Fisher-Yates
    for (int64_t i = static_cast<int64_t>(values.size()) - 1; i > 0; --i) {
      std::swap(values[static_cast<size_t>(i)], values[static_cast<size_t>(uniform_int(0, i))]);
    }
  }

 private:
  uint64_t state_[4];
};

}  // namespace ril::data
