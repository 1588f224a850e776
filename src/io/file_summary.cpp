#include "ril/io/file_summary.h"

#include <map>
#include <sstream>

#include "ril/common/error.h"

namespace ril::io {
namespace {

std::map<std::string, KindSummary>& kind_summaries() {
  static std::map<std::string, KindSummary> summaries;
  return summaries;
}

std::string join_path(const std::string& group, const std::string& name) {
  return group == "/" ? name : group + "/" + name;
}

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  std::ostringstream out;
  out.precision(unit == 0 ? 0 : 1);
  out << std::fixed << value << " " << units[unit];
  return out.str();
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? " x " : "") + std::to_string(dims[i]);
  return text + "]";
}

std::string quoted_sample(const std::string& text, size_t limit = 60) {
  std::string out;
  for (char c : text.substr(0, limit)) out += (c == '\n') ? std::string("\\n") : std::string(1, c);
  return "\"" + out + (text.size() > limit ? "...\"" : "\"");
}

void describe_attrs(const H5File& file, const std::string& object, const std::string& indent, std::ostream& out) {
  for (const std::string& name : file.attr_names(object)) {
    if (name == "ril_dtype") continue;
    out << indent << "@" << name << " = ";
    try {
      out << quoted_sample(file.attr_string(object, name), 80);
    } catch (const Error&) {
      try {
        const double d = file.attr_double(object, name);
        const int64_t i = file.attr_int(object, name);
        if (static_cast<double>(i) == d) out << i; else out << d;
      } catch (const Error&) {
        out << "(unreadable)";
      }
    }
    out << "\n";
  }
}

void describe_group(const H5File& file, const std::string& group, const std::string& indent, std::ostream& out) {
  for (const std::string& name : file.list(group)) {
    const std::string path = join_path(group, name);
    if (!file.is_group(path)) {
      const DatasetInfo info = file.dataset_info(path);
      out << indent << name << ": " << element_type_name(info.type) << " " << dims_text(info.shape);
      if (!info.chunk.empty()) out << ", chunks " << dims_text(info.chunk);
      if (info.compression > 0) out << ", deflate " << info.compression;
      if (info.extendable) out << ", extendable";
      out << ", " << human_bytes(info.storage_bytes) << " on disk\n";
      describe_attrs(file, path, indent + "  ", out);
      continue;
    }
    const bool is_text = file.exists(path + "/bytes") && file.exists(path + "/offsets");
    const bool is_ids = file.exists(path + "/ids") && file.exists(path + "/offsets");
    if (is_text) {
      const int64_t count = file.text_count(path);
      out << indent << name << "/: text, " << count << " strings, "
          << human_bytes(file.shape(path + "/bytes")[0]) << " UTF-8";
      if (count > 0) out << ", first " << quoted_sample(file.read_text(path, 0, 1)[0]);
      out << "\n";
    } else if (is_ids) {
      out << indent << name << "/: token ids, " << file.ragged_count(path) << " rows, "
          << file.shape(path + "/ids")[0] << " ids\n";
    } else {
      out << indent << name << "/\n";
      describe_attrs(file, path, indent + "  ", out);
      describe_group(file, path, indent + "  ", out);
    }
  }
}

}  // namespace

void register_kind_summary(const std::string& kind, KindSummary summary) {
  kind_summaries()[kind] = std::move(summary);
}

std::string summarize_file(const std::string& path) {
  const H5File file = H5File::open(path);
  std::ostringstream out;
  out << path << ": ril " << file.kind() << " file, format_version " << file.format_version() << "\n";
  describe_attrs(file, "/", "  ", out);
  describe_group(file, "/", "  ", out);
  const auto it = kind_summaries().find(file.kind());
  if (it != kind_summaries().end()) out << "\n" << it->second(file);
  return out.str();
}

}  // namespace ril::io
