#include "ril/data/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>

#include "ril/common/error.h"
#include "ril/io/atomic_file.h"

namespace ril::data {
namespace {

// Images per chunk of /images: about 1 MiB (64 images of 64x64x3; fewer for large images), so one
// example read decompresses one chunk and the chunk fits HDF5's default 1 MiB chunk cache. The
// reader reads blocks of this many rows (Dataset::image_bytes).
int64_t image_chunk_rows(int64_t row_bytes) { return std::clamp<int64_t>((int64_t{1} << 20) / row_bytes, 1, 64); }

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kVal: return "val";
    case Split::kTest: return "test";
  }
  return "?";
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::kTrain;
  if (name == "val" || name == "validation") return Split::kVal;
  if (name == "test") return Split::kTest;
  throw ConfigError(cat("unknown split '", name, "' (expected train, val or test)"));
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i];
  return out;
}

std::vector<std::string> split_names(const std::string& joined) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= joined.size() && !joined.empty()) {
    const size_t comma = joined.find(',', start);
    const size_t end = comma == std::string::npos ? joined.size() : comma;
    names.push_back(joined.substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Writer

struct DatasetWriter::State {
  DatasetWriterOptions options;
  std::unique_ptr<io::AtomicFile> atomic;
  std::optional<io::H5File> file;
  std::vector<std::string> family_names;
  std::map<std::string, std::string> string_attrs;
  std::map<std::string, int64_t> int_attrs;
  bool finished = false;
  // Buffers since the last flush.
  std::vector<uint8_t> images;
  std::vector<std::string> questions, answers, scenes, sources;
  std::map<std::string, std::vector<std::string>> rationales;
  std::vector<int32_t> families;
  std::vector<uint8_t> splits;
  int64_t rows_written = 0;
};

DatasetWriter::DatasetWriter(const DatasetWriterOptions& options) : state_(std::make_unique<State>()) {
  RIL_CONFIG_CHECK(!options.path.empty(), "dataset output path is empty");
  RIL_CONFIG_CHECK(options.image_height > 0 && options.image_width > 0, "image size must be positive, got ",
                   options.image_height, "x", options.image_width);
  struct stat st {};
  RIL_CONFIG_CHECK(options.overwrite || ::stat(options.path.c_str(), &st) != 0, "output ", options.path,
                   " exists; pass --overwrite to replace it");
  for (const std::string& style : options.rationale_styles) {
    RIL_CONFIG_CHECK(!style.empty() && style.find_first_of(",/") == std::string::npos,
                     "bad rationale style name '", style, "'");
  }
  state_->options = options;
  state_->atomic = std::make_unique<io::AtomicFile>(options.path);
  state_->file.emplace(io::H5File::create(state_->atomic->temp_path(), kDatasetKind, /*overwrite=*/true));
}

DatasetWriter::~DatasetWriter() = default;  // AtomicFile removes the temporary if not committed

void DatasetWriter::declare_family(const std::string& family) {
  RIL_CHECK(!family.empty() && family.find(',') == std::string::npos, "bad family name '", family, "'");
  if (std::find(state_->family_names.begin(), state_->family_names.end(), family) == state_->family_names.end()) {
    state_->family_names.push_back(family);
  }
}

void DatasetWriter::add(const Example& example, const std::string& source) {
  State& s = *state_;
  RIL_CHECK(!s.finished, "DatasetWriter::add after finish() for ", s.options.path);
  RIL_CHECK(example.image.height() == s.options.image_height && example.image.width() == s.options.image_width,
            "example ", count_, " has a ", example.image.height(), "x", example.image.width(), " image; the file ",
            s.options.path, " holds ", s.options.image_height, "x", s.options.image_width);
  RIL_CHECK(example.rationales.size() == s.options.rationale_styles.size(), "example ", count_, " has ",
            example.rationales.size(), " rationales, expected styles ", join_names(s.options.rationale_styles));
  for (const std::string& style : s.options.rationale_styles) {
    auto it = example.rationales.find(style);
    RIL_CHECK(it != example.rationales.end(), "example ", count_, " lacks rationale style '", style, "'");
    s.rationales[style].push_back(it->second);
  }
  declare_family(example.family);
  const auto family = std::find(s.family_names.begin(), s.family_names.end(), example.family);
  s.families.push_back(static_cast<int32_t>(family - s.family_names.begin()));
  s.splits.push_back(static_cast<uint8_t>(example.split));
  s.images.insert(s.images.end(), example.image.bytes().begin(), example.image.bytes().end());
  s.questions.push_back(example.question);
  s.answers.push_back(example.answer);
  if (s.options.with_scene) s.scenes.push_back(example.scene_json);
  if (s.options.with_source) s.sources.push_back(source);
  ++count_;
  if (static_cast<int64_t>(s.questions.size()) >= s.options.buffer_examples) flush();
}

void DatasetWriter::flush() {
  State& s = *state_;
  const int64_t n = static_cast<int64_t>(s.questions.size());
  if (n == 0) return;
  io::H5File& f = *s.file;
  if (s.rows_written == 0) {
    io::DatasetOptions rows;
    rows.extendable = true;
    rows.chunk_rows = image_chunk_rows(int64_t{s.options.image_height} * s.options.image_width * 3);
    rows.compression = 4;
    f.write_array("images", io::ElementType::kUInt8, {n, s.options.image_height, s.options.image_width, 3},
                  s.images.data(), rows);
    io::DatasetOptions codes;
    codes.extendable = true;
    codes.chunk_rows = 4096;
    f.write_array("family", io::ElementType::kInt32, {n}, s.families.data(), codes);
    f.write_array("split", io::ElementType::kUInt8, {n}, s.splits.data(), codes);
  } else {
    f.append_rows("images", n, s.images.data());
    f.append_rows("family", n, s.families.data());
    f.append_rows("split", n, s.splits.data());
  }
  f.append_text("question", s.questions);
  f.append_text("answer", s.answers);
  for (auto& [style, texts] : s.rationales) {
    f.append_text("rationale/" + style, texts);
    texts.clear();
  }
  if (s.options.with_scene) f.append_text("scene", s.scenes);
  if (s.options.with_source) f.append_text("source", s.sources);
  s.rows_written += n;
  s.images.clear();
  s.questions.clear();
  s.answers.clear();
  s.scenes.clear();
  s.sources.clear();
  s.families.clear();
  s.splits.clear();
}

void DatasetWriter::set_attr(const std::string& name, const std::string& value) { state_->string_attrs[name] = value; }
void DatasetWriter::set_attr(const std::string& name, int64_t value) { state_->int_attrs[name] = value; }

void DatasetWriter::finish() {
  State& s = *state_;
  RIL_CHECK(!s.finished, "DatasetWriter::finish called twice for ", s.options.path);
  RIL_CHECK(count_ > 0, "no examples to write to ", s.options.path);
  flush();
  io::H5File& f = *s.file;
  f.set_attr("/", "dataset_version", kDatasetVersion);
  f.set_attr("/", "generator", s.options.generator);
  f.set_attr("/", "image_height", static_cast<int64_t>(s.options.image_height));
  f.set_attr("/", "image_width", static_cast<int64_t>(s.options.image_width));
  f.set_attr("/", "image_channels", static_cast<int64_t>(3));
  f.set_attr("/", "families", join_names(s.family_names));
  f.set_attr("/", "splits", std::string("train,val,test"));
  f.set_attr("/", "rationale_styles", join_names(s.options.rationale_styles));
  f.set_attr("/", "count", count_);
  for (const auto& [name, value] : s.string_attrs) f.set_attr("/", name, value);
  for (const auto& [name, value] : s.int_attrs) f.set_attr("/", name, value);
  f.flush();
  f.close();
  s.file.reset();
  s.atomic->commit();
  s.finished = true;
}

// ---------------------------------------------------------------------------------------------
// Reader

Dataset Dataset::open(const std::string& path) {
  Dataset d;
  d.file_ = std::make_shared<io::H5File>(io::H5File::open(path, kDatasetKind));
  const io::H5File& f = *d.file_;
  for (const char* part : {"images", "question", "answer", "family", "split"}) {
    RIL_CHECK(f.exists(part), "dataset ", path, " lacks /", part, "; regenerate it with ril-data");
  }
  for (const char* attr : {"image_height", "image_width", "families"}) {
    RIL_CHECK(f.has_attr("/", attr), "dataset ", path, " lacks root attribute `", attr, "`; regenerate it with ril-data");
  }
  d.height_ = static_cast<int>(f.attr_int("/", "image_height"));
  d.width_ = static_cast<int>(f.attr_int("/", "image_width"));
  d.family_names_ = split_names(f.attr_string("/", "families"));
  d.styles_ = f.has_attr("/", "rationale_styles") ? split_names(f.attr_string("/", "rationale_styles"))
                                                  : std::vector<std::string>{};
  d.questions_ = f.read_text("question");
  d.answers_ = f.read_text("answer");
  d.families_ = f.read_vector<int32_t>("family");
  d.splits_ = f.read_vector<uint8_t>("split");
  if (f.exists("scene")) d.scenes_ = f.read_text("scene");
  for (const std::string& style : d.styles_) d.rationales_[style] = f.read_text("rationale/" + style);

  const size_t n = d.questions_.size();
  const std::vector<int64_t> shape = f.shape("images");
  RIL_CHECK(shape.size() == 4 && shape[1] == d.height_ && shape[2] == d.width_ && shape[3] == 3,
            "dataset ", path, ": /images has the wrong shape for ", d.height_, "x", d.width_, "x3 images");
  auto same = [&](size_t m, const char* what) {
    RIL_CHECK(m == n, "dataset ", path, ": /", what, " has ", m, " rows but /question has ", n);
  };
  same(static_cast<size_t>(shape[0]), "images");
  same(d.answers_.size(), "answer");
  same(d.families_.size(), "family");
  same(d.splits_.size(), "split");
  if (!d.scenes_.empty()) same(d.scenes_.size(), "scene");
  for (const auto& [style, texts] : d.rationales_) same(texts.size(), ("rationale/" + style).c_str());
  for (size_t i = 0; i < n; ++i) {
    RIL_CHECK(d.families_[i] >= 0 && static_cast<size_t>(d.families_[i]) < d.family_names_.size(), "dataset ", path,
              ": example ", i, " has family code ", d.families_[i], " but only ", d.family_names_.size(),
              " families are named");
    RIL_CHECK(d.splits_[i] <= 2, "dataset ", path, ": example ", i, " has split code ", int(d.splits_[i]));
  }
  return d;
}

std::vector<int64_t> Dataset::indices(Split split) const {
  std::vector<int64_t> out;
  for (size_t i = 0; i < splits_.size(); ++i) {
    if (splits_[i] == static_cast<uint8_t>(split)) out.push_back(static_cast<int64_t>(i));
  }
  return out;
}

std::vector<int64_t> Dataset::indices(const std::string& family, Split split) const {
  std::vector<int64_t> out;
  for (int64_t i : indices(split)) {
    if (this->family(i) == family) out.push_back(i);
  }
  return out;
}

const std::string& Dataset::family(int64_t index) const {
  return family_names_.at(static_cast<size_t>(families_.at(static_cast<size_t>(index))));
}

const std::string& Dataset::rationale(int64_t index, const std::string& style) const {
  auto it = rationales_.find(style);
  RIL_CHECK(it != rationales_.end(), "dataset ", file_->path(), " has no rationale style '", style, "' (it has ",
            join_names(styles_), ")");
  RIL_CHECK(index >= 0 && index < size(), "example index ", index, " out of range [0, ", size(), ") in ",
            file_->path());
  return it->second[static_cast<size_t>(index)];
}

std::vector<uint8_t> Dataset::image_bytes(int64_t index) const {
  RIL_CHECK(index >= 0 && index < size(), "example index ", index, " out of range [0, ", size(), ") in ",
            file_->path());
  // read_rows opens and closes /images on every call, and HDF5's chunk cache goes with the handle:
  // read alone, every image would decompress its whole chunk (up to 64 images). So the block of
  // rows around `index`, aligned as the writer's chunks, is read at once and kept.
  const int64_t row_bytes = int64_t{height_} * width_ * 3;
  ImageBlock& block = *image_block_;
  if (index < block.start || index >= block.start + block.rows) {
    const int64_t per = image_chunk_rows(row_bytes);
    block.start = index / per * per;
    block.rows = std::min(per, size() - block.start);
    block.bytes = file_->read_rows("images", block.start, block.rows).bytes;
  }
  const auto first = block.bytes.begin() + static_cast<std::ptrdiff_t>((index - block.start) * row_bytes);
  return std::vector<uint8_t>(first, first + static_cast<std::ptrdiff_t>(row_bytes));
}

Example Dataset::example(int64_t index) const {
  Example e;
  e.index = index;
  e.image = Image(height_, width_, image_bytes(index));
  e.question = question(index);
  e.answer = answer(index);
  for (const auto& [style, texts] : rationales_) e.rationales[style] = texts[static_cast<size_t>(index)];
  e.family = family(index);
  e.split = split(index);
  if (!scenes_.empty()) e.scene_json = scenes_[static_cast<size_t>(index)];
  return e;
}

}  // namespace ril::data
