#include "ril/data/data_rng.h"

#include "ril/common/error.h"
#include "ril/common/seed.h"

namespace ril::data {

DataRng::DataRng(uint64_t seed) {
  // Seed the four state words from successive splitmix64 outputs (never all zero).
  uint64_t s = seed;
  for (auto& word : state_) {
    s += 0x9e3779b97f4a7c15ULL;
    word = splitmix64(s);
  }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t DataRng::next() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

int64_t DataRng::uniform_int(int64_t lo, int64_t hi) {
  RIL_CHECK(lo <= hi, "uniform_int: empty range [", lo, ", ", hi, "]");
  const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
  if (range == 0) return static_cast<int64_t>(next());  // the full 64-bit range
  // Reject the top partial bucket so that every value is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
  uint64_t draw = next();
  while (draw >= limit) draw = next();
  return lo + static_cast<int64_t>(draw % range);
}

double DataRng::uniform01() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

bool DataRng::coin(double p_true) { return uniform01() < p_true; }

}  // namespace ril::data
