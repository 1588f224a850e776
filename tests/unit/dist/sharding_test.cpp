// Which items a rank owns (dist/sharding.h): every item has exactly one owner, the shares are
// round robin, and blocks cover [0, n) in order.
#include <gtest/gtest.h>

#include "ril/common/error.h"
#include "ril/dist/sharding.h"

namespace {

TEST(Sharding, RoundRobinGivesEveryItemOneOwner) {
  for (int ranks : {1, 2, 3, 4, 7}) {
    std::vector<int> owners(23, 0);
    for (int r = 0; r < ranks; ++r) {
      for (int64_t i : ril::dist::owned_items(23, r, ranks)) {
        EXPECT_EQ(ril::dist::owner_of(i, ranks), r);
        EXPECT_TRUE(ril::dist::owns(i, r, ranks));
        ++owners[static_cast<size_t>(i)];
      }
    }
    for (int n : owners) EXPECT_EQ(n, 1) << ranks << " ranks";
  }
  EXPECT_EQ(ril::dist::owned_items(7, 1, 3), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(ril::dist::owned_share(std::vector<std::string>{"a", "b", "c", "d", "e"}, 1, 2),
            (std::vector<std::string>{"b", "d"}));
  EXPECT_TRUE(ril::dist::owned_items(0, 0, 4).empty());
  EXPECT_THROW(ril::dist::owned_items(3, 2, 2), ril::Error);
  EXPECT_THROW(ril::dist::owner_of(-1, 2), ril::Error);
}

TEST(Sharding, BlocksCoverTheRangeInOrder) {
  for (int ranks : {1, 2, 3, 5}) {
    int64_t next = 0;
    for (int r = 0; r < ranks; ++r) {
      const auto [begin, end] = ril::dist::block_range(11, r, ranks);
      EXPECT_EQ(begin, next);
      EXPECT_LE(end - begin, (11 + ranks - 1) / ranks);
      next = end;
    }
    EXPECT_EQ(next, 11);
  }
  EXPECT_EQ(ril::dist::block_range(2, 3, 4), (std::pair<int64_t, int64_t>{2, 2}));  // an empty tail block
}

}  // namespace
