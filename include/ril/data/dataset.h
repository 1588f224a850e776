// Dataset files (kind "dataset", DESIGN.md section 4): what the synthetic generator and the
// importer write and what training reads.
//
// Layout (N examples, one image size per file):
//   /                       attributes: kind="dataset", format_version (H5File),
//                           dataset_version=1, generator ("synth" | "import"), seed (int64,
//                           synth), image_height, image_width, image_channels=3,
//                           families ("counting,attribute,..."; the names of family codes),
//                           splits ("train,val,test"), rationale_styles ("terse,steps"),
//                           count (N), and generator-specific extras (difficulty knobs, source).
//   /images                 uint8 [N, H, W, 3], RGB row-major, chunked (<= 64 rows, ~1 MiB), deflate,
//                           extendable along N.
//   /question               text group (bytes + offsets, see H5File): the question, no
//                           image token (the chat template adds it).
//   /answer                 text: the short canonical answer ("3", "yes", "green").
//   /rationale/<style>      text, one group per style (synth: terse, steps; import: the
//                           response turn as "reference"); every one ends with "Answer: <answer>"
//                           when generated here.
//   /family                 int32 [N], index into the root attribute `families`.
//   /split                  uint8 [N], 0 train, 1 val, 2 test.
//   /scene                  text, optional (synth): the generating scene as JSON
//                           (Scene::to_json), so answers can be recomputed.
//   /source                 text, optional (import): "<file>:<line>" of the record.
//
// Examples are stored in generation order; splits are marked, not separated, so one file
// carries train/val/test generated from disjoint seeds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ril/data/image.h"
#include "ril/io/h5_file.h"

namespace ril::data {

constexpr int64_t kDatasetVersion = 1;
constexpr const char* kDatasetKind = "dataset";

enum class Split : uint8_t { kTrain = 0, kVal = 1, kTest = 2 };
const char* split_name(Split split);
Split parse_split(const std::string& name);  // "train" | "val" | "test"; throws ConfigError

// One example as training sees it.
struct Example {
  int64_t index = 0;
  Image image;
  std::string question;
  std::string answer;
  std::map<std::string, std::string> rationales;  // style -> text
  std::string family;
  Split split = Split::kTrain;
  std::string scene_json;  // empty when the file has no /scene
};

struct DatasetWriterOptions {
  std::string path;
  int image_height = 64;
  int image_width = 64;
  std::vector<std::string> rationale_styles;  // every added example has exactly these
  std::string generator;                      // "synth" | "import"
  bool with_scene = false;                    // write /scene
  bool with_source = false;                   // write /source
  bool overwrite = false;
  int64_t buffer_examples = 256;              // examples held in memory between flushes
};

// Streams examples into a new dataset file through an AtomicFile: the target appears only
// when finish() succeeds; an exception or a crash leaves any previous file untouched.
// Single-threaded, one process.
class DatasetWriter {
 public:
  explicit DatasetWriter(const DatasetWriterOptions& options);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Families are numbered in order of first appearance unless declared first.
  void declare_family(const std::string& family);
  // Checks the image size and rationale styles; throws ril::Error naming the example.
  void add(const Example& example, const std::string& source = "");
  // Root attributes beside the standard ones (seed, difficulty knobs, ...).
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, int64_t value);
  int64_t count() const { return count_; }
  // Flushes, writes the root attributes, closes and renames into place.
  void finish();

 private:
  void flush();
  struct State;
  std::unique_ptr<State> state_;
  int64_t count_ = 0;
};

// Read access to a dataset file. Text, families and splits are loaded on open (small);
// images are read in blocks of the file's chunk rows, the last block kept (examples read in
// order decompress each chunk once). Not thread-safe (one HDF5 handle, one block; copies of a
// Dataset share both).
class Dataset {
 public:
  // Throws ril::Error with the path if the file is not a dataset or lacks a required part.
  static Dataset open(const std::string& path);

  int64_t size() const { return static_cast<int64_t>(questions_.size()); }
  int image_height() const { return height_; }
  int image_width() const { return width_; }
  const std::vector<std::string>& family_names() const { return family_names_; }
  const std::vector<std::string>& rationale_styles() const { return styles_; }
  bool has_rationale_style(const std::string& style) const {
    return std::find(styles_.begin(), styles_.end(), style) != styles_.end();
  }
  std::vector<int64_t> indices(Split split) const;  // ascending example indices of a split
  std::vector<int64_t> indices(const std::string& family, Split split) const;

  Example example(int64_t index) const;  // throws on an index out of range
  std::vector<uint8_t> image_bytes(int64_t index) const;  // H*W*3 bytes
  const std::string& question(int64_t index) const { return questions_.at(static_cast<size_t>(index)); }
  const std::string& answer(int64_t index) const { return answers_.at(static_cast<size_t>(index)); }
  // Text of one rationale style; throws ril::Error naming the styles the file has.
  const std::string& rationale(int64_t index, const std::string& style) const;
  const std::string& family(int64_t index) const;
  Split split(int64_t index) const { return static_cast<Split>(splits_.at(static_cast<size_t>(index))); }

  const io::H5File& file() const { return *file_; }

 private:
  struct ImageBlock {  // rows [start, start + rows) of /images
    int64_t start = -1, rows = 0;
    std::vector<uint8_t> bytes;
  };
  std::shared_ptr<io::H5File> file_;
  std::shared_ptr<ImageBlock> image_block_ = std::make_shared<ImageBlock>();
  int height_ = 0, width_ = 0;
  std::vector<std::string> family_names_, styles_;
  std::vector<std::string> questions_, answers_, scenes_;
  std::map<std::string, std::vector<std::string>> rationales_;
  std::vector<int32_t> families_;
  std::vector<uint8_t> splits_;
};

// "a,b,c" <-> {"a","b","c"}; the root attributes hold lists this way.
std::string join_names(const std::vector<std::string>& names);
std::vector<std::string> split_names(const std::string& joined);

}  // namespace ril::data
