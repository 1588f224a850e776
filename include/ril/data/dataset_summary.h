// A human-readable summary of a dataset file: counts per family and split, image size,
// text length statistics, answer distribution per family. `ril info FILE` calls it for files
// of kind "dataset"; `ril-data info FILE` too.
#pragma once

#include <string>

#include "ril/io/h5_file.h"

namespace ril::data {

struct SummaryOptions {
  // When set, text lengths are also given in tokens of this tokenizer.json.
  std::string tokenizer_path;
  int top_answers = 4;  // most common answers listed per family
};

std::string summarize_dataset(const io::H5File& file);
std::string summarize_dataset(const io::H5File& file, const SummaryOptions& options);

}  // namespace ril::data
