// `ril info FILE`: a readable summary of any ril HDF5 file. The generic part walks the file
// (attributes, groups, datasets with shape/dtype/chunking/compression, text and token arrays
// with counts and a sample); areas that own a kind (dataset, teacher cache, checkpoint) add a
// summary of their own through register_kind_summary(), called from main.
#pragma once

#include <functional>
#include <string>

#include "ril/io/h5_file.h"

namespace ril::io {

using KindSummary = std::function<std::string(const H5File&)>;
void register_kind_summary(const std::string& kind, KindSummary summary);

// Opens `path` (checking format_version and kind) and returns the summary text.
std::string summarize_file(const std::string& path);

}  // namespace ril::io
