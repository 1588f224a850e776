#include "ril/dist/sharding.h"

#include <algorithm>

#include "ril/common/error.h"

namespace ril::dist {

namespace {
void check_ranks(int rank, int ranks) {
  RIL_CHECK(ranks >= 1 && rank >= 0 && rank < ranks, "sharding: rank ", rank, " of ", ranks);
}
}  // namespace

int owner_of(int64_t item, int ranks) {
  RIL_CHECK(item >= 0 && ranks >= 1, "sharding: item ", item, " among ", ranks, " ranks");
  return static_cast<int>(item % ranks);
}

std::vector<int64_t> owned_items(int64_t count, int rank, int ranks) {
  check_ranks(rank, ranks);
  std::vector<int64_t> out;
  for (int64_t i = rank; i < count; i += ranks) out.push_back(i);
  return out;
}

std::pair<int64_t, int64_t> block_range(int64_t count, int rank, int ranks) {
  check_ranks(rank, ranks);
  const int64_t per = (count + ranks - 1) / ranks;
  const int64_t begin = std::min(count, per * rank);
  return {begin, std::min(count, begin + per)};
}

std::pair<int64_t, int64_t> even_range(int64_t count, int64_t part, int64_t parts) {
  RIL_CHECK(count >= 0 && parts >= 1 && part >= 0 && part < parts, "sharding: chunk ", part, " of ", parts, " over ",
            count, " items");
  const int64_t base = count / parts, longer = count % parts;
  const int64_t begin = part * base + std::min(part, longer);
  return {begin, begin + base + (part < longer ? 1 : 0)};
}

}  // namespace ril::dist
