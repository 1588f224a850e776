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

TEST(Sharding, EvenChunksCoverTheRangeAndDifferByAtMostOne) {
  for (int64_t count : {0, 1, 7, 12}) {
    for (int64_t parts : {1, 2, 3, 5, 13}) {
      int64_t next = 0;
      for (int64_t k = 0; k < parts; ++k) {
        const auto [begin, end] = ril::dist::even_range(count, k, parts);
        EXPECT_EQ(begin, next) << count << " items, chunk " << k << " of " << parts;
        EXPECT_TRUE(end - begin == count / parts || end - begin == count / parts + 1);
        next = end;
      }
      EXPECT_EQ(next, count);
    }
  }
  EXPECT_EQ(ril::dist::even_range(7, 0, 3), (std::pair<int64_t, int64_t>{0, 3}));  // 3, 2, 2
  EXPECT_EQ(ril::dist::even_range(7, 2, 3), (std::pair<int64_t, int64_t>{5, 7}));
  EXPECT_THROW(ril::dist::even_range(7, 3, 3), ril::Error);
  EXPECT_THROW(ril::dist::even_range(7, 0, 0), ril::Error);
}

}  // namespace
