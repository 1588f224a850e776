#include "ril/common/seed.h"

namespace ril {

namespace {
constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;
}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t step_question_seed(uint64_t seed, int64_t step, int64_t question, uint64_t stream) {
  uint64_t h = splitmix64(seed ^ (stream * kGoldenGamma));
  h = splitmix64(h ^ static_cast<uint64_t>(step));
  return splitmix64(h ^ static_cast<uint64_t>(question));
}

}  // namespace ril
