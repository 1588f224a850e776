// Which items does this rank own: the one place where work is dealt to the ranks of a group.
//   round robin  item i (a position in a list, or a key such as a question id) belongs to
//                rank i mod ranks; used for questions (rollout, teacher, discriminator and
//                learner shares of a step; `ril teach`), eval batches and val examples;
//   block        items [0, n) cut into `ranks` contiguous blocks of ceil(n / ranks);
//   even         items [0, n) cut into `parts` contiguous chunks whose sizes differ by at most
//                one: the micro-batches of --accumulate K inside one rank's share.
// A rank's share is a pure function of (item, rank, ranks): every rank can work out every
// other rank's share without a message. Which ranks call: any; pure.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ril/dist/communicator.h"

namespace ril::dist {

// Round robin. `item` >= 0, ranks >= 1.
int owner_of(int64_t item, int ranks);
inline bool owns(int64_t item, int rank, int ranks) { return owner_of(item, ranks) == rank; }
inline bool owns(int64_t item, const Communicator& comm) { return owns(item, comm.rank(), comm.size()); }

// The items i of [0, count) that `rank` owns, ascending.
std::vector<int64_t> owned_items(int64_t count, int rank, int ranks);

// The elements of `items` at the positions `rank` owns, in order.
template <typename T>
std::vector<T> owned_share(const std::vector<T>& items, int rank, int ranks) {
  std::vector<T> out;
  for (int64_t i : owned_items(static_cast<int64_t>(items.size()), rank, ranks)) out.push_back(items[static_cast<size_t>(i)]);
  return out;
}

// Block: [begin, end) of `rank` when `count` items are cut into `ranks` blocks of
// ceil(count / ranks) (the last ones may be shorter or empty).
std::pair<int64_t, int64_t> block_range(int64_t count, int rank, int ranks);

// Even: [begin, end) of chunk `part` when `count` items are cut into `parts` contiguous chunks,
// the first count % parts of them one item longer (empty chunks when count < parts). Used for
// micro-batches (--accumulate K): chunk sizes never differ by more than one item.
std::pair<int64_t, int64_t> even_range(int64_t count, int64_t part, int64_t parts);

}  // namespace ril::dist
