// `ril-data show`: a PNG grid of examples, each image enlarged with its index, family,
// question and answer written under it in the bitmap font, for eyeballing a dataset.
#pragma once

#include <cstdint>
#include <string>

#include "ril/data/dataset.h"
#include "ril/data/image.h"

namespace ril::data {

struct ContactSheetOptions {
  int64_t count = 16;        // examples shown
  int64_t start = 0;         // position within the chosen split to start from
  std::string split;         // "train" | "val" | "test" | "" (all)
  int columns = 0;           // 0: ceil(sqrt(count))
  int scale = 2;             // image enlargement (pixel repetition)
  std::string rationale;     // also print this rationale style under each cell ("" none)
};

// Consecutive examples (families rotate with the index, so a run shows all of them).
Image render_contact_sheet(const Dataset& dataset, const ContactSheetOptions& options);

}  // namespace ril::data
