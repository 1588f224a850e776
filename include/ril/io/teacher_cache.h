// The teacher cache (kind "teacher_cache", DESIGN.md section 4): teacher responses for the
// questions of one dataset file, made ahead of training by `ril teach` or imported from JSONL.
//
// Layout:
//   /                          kind="teacher_cache", format_version, cache_version=1,
//                              dataset_path, dataset_fingerprint (the dataset's root attributes,
//                              sorted "name=value;..."), dataset_count
//   /teachers/<name>           group; attributes: model_path, model_type, tokenizer_path,
//                              source ("generate" | "import"), temperature, top_p, top_k,
//                              repetition_penalty, max_new_tokens, seed,
//                              responses_per_question (N), split, split_questions,
//                              committed (int64: rows known complete)
//   /teachers/<name>/question_id    int64 [rows], extendable
//   /teachers/<name>/sample_index   int32 [rows], extendable
//   /teachers/<name>/response       text (bytes + offsets)
//
// Writer protocol (append): rows are appended, the file is flushed (H5Fflush), THEN the
// `committed` attribute is advanced and the file flushed again. Readers only read rows below
// `committed`. Opening for writing first cuts every teacher's datasets back to `committed`
// rows (and the response bytes to the committed offsets), so rows of a killed writer are
// dropped and overwritten by the resumed run: no duplicates, no losses.
// One process writes (serial HDF5); not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ril/io/h5_file.h"

namespace ril::io {

constexpr const char* kTeacherCacheKind = "teacher_cache";
constexpr int64_t kTeacherCacheVersion = 1;

// "name=value;..." of a dataset file's root attributes (sorted), and its `count`.
struct DatasetFingerprint {
  std::string text;
  int64_t count = 0;
};
DatasetFingerprint dataset_fingerprint(const std::string& dataset_path);

struct TeacherInfo {
  std::string name;
  std::string model_path;
  std::string model_type;      // "qwen2" | "llava" | "import"
  std::string tokenizer_path;
  std::string source = "generate";  // "generate" | "import"
  double temperature = 1.0;
  double top_p = 0.95;
  int64_t top_k = 50;
  double repetition_penalty = 1.05;
  int64_t max_new_tokens = 64;
  int64_t seed = 0;
  int64_t responses_per_question = 4;
  std::string split = "train";
  int64_t split_questions = 0;  // questions in the split when the teacher was added

  // The settings that must agree when a run resumes a teacher ("" when they do), naming each
  // field that differs with both values.
  std::string differences(const TeacherInfo& other) const;
};

struct TeacherRow {
  int64_t question_id = 0;
  int32_t sample_index = 0;
  std::string response;
  bool operator==(const TeacherRow& o) const {
    return question_id == o.question_id && sample_index == o.sample_index && response == o.response;
  }
};

struct TeacherResponse {
  int32_t sample_index = 0;
  std::string text;
};

struct Coverage {
  int64_t complete = 0;  // questions with >= responses_per_question committed responses
  int64_t total = 0;     // questions asked about
  int64_t rows = 0;      // committed rows
};

struct ImportReport {
  int64_t lines = 0;
  int64_t imported = 0;
  int64_t duplicates = 0;            // same question and text already in the cache: skipped
  std::vector<std::string> errors;   // "FILE:LINE: reason", one per bad line
};

class TeacherCache {
 public:
  // Opens `path` for writing, creating it for `dataset_path` when absent. An existing cache
  // built for another dataset (other fingerprint) is refused with a message naming both.
  // Uncommitted rows of every teacher are cut off (see above).
  static TeacherCache open_for_dataset(const std::string& path, const std::string& dataset_path);
  // Opens an existing cache; kReadWrite also cuts uncommitted rows. Both modes then run
  // check_question_ids(dataset_count()) (ConfigError on a column of another type or ids beyond
  // the dataset the cache records).
  static TeacherCache open(const std::string& path, OpenMode mode = OpenMode::kRead);

  // Every teacher's question_id column is int64 and sample_index int32 (a ConfigError names the
  // file, the dataset and its type, e.g. float64), and the committed question ids lie in
  // [0, dataset_size): "question ids up to N, the dataset has M questions". open() checks against
  // the count the cache recorded; a caller that holds the dataset may check against its size.
  void check_question_ids(int64_t dataset_size) const;

  TeacherCache(TeacherCache&&) noexcept;
  TeacherCache& operator=(TeacherCache&&) noexcept;
  ~TeacherCache();

  const std::string& path() const;
  std::string dataset_path() const;
  std::string dataset_fingerprint_text() const;
  int64_t dataset_count() const;

  // Adds a teacher, or checks that an existing one has the same settings (throws
  // ril::Error listing the differences). Returns true when it was added.
  bool add_teacher(const TeacherInfo& info);
  bool has_teacher(const std::string& name) const;
  TeacherInfo teacher(const std::string& name) const;
  std::vector<std::string> teachers() const;

  // Appends rows, flushes, advances `committed`, flushes. Returns the new committed count.
  int64_t append(const std::string& teacher, const std::vector<TeacherRow>& rows);
  int64_t committed(const std::string& teacher) const;
  // Committed rows [start, start + count) (count -1: to the end).
  std::vector<TeacherRow> rows(const std::string& teacher, int64_t start = 0, int64_t count = -1) const;
  // question id -> committed responses of a teacher.
  std::map<int64_t, int64_t> response_counts(const std::string& teacher) const;
  // teacher -> its committed responses to `question_id` (sample order); teachers without any
  // are absent.
  std::map<std::string, std::vector<TeacherResponse>> responses_for(int64_t question_id) const;
  // Questions among `question_ids` with >= N committed responses of `teacher`.
  Coverage coverage(const std::string& teacher, const std::vector<int64_t>& question_ids) const;
  // Same, over the teacher's split as recorded (questions 0..split_questions unknown here, so
  // `total` is split_questions and `complete` counts distinct complete questions).
  Coverage coverage(const std::string& teacher) const;

  // Imports JSONL lines {"question_id": int (or "index": int), "teacher": name (optional; must
  // be `teacher` when present), "response": text}. Good lines are appended in one commit; a
  // line whose question already has the same text from this teacher is skipped; bad lines
  // are reported with their line numbers and not imported. The teacher must exist.
  ImportReport import_jsonl(const std::string& jsonl_path, const std::string& teacher);

  H5File& file();
  const H5File& file() const;

 private:
  explicit TeacherCache(H5File file);
  std::unique_ptr<H5File> file_;
  // `committed` of each teacher appended to through this object (one writer per file, so the
  // attribute only changes here): append() then reads nothing back from the file.
  std::map<std::string, int64_t> committed_;
};

// Cuts every teacher's datasets in the cache file at `path` back to its `committed` rows
// (raw HDF5; the file must not be open elsewhere in this process). Returns rows dropped.
int64_t truncate_uncommitted(const std::string& path);

// `ril info` summary of a teacher cache: dataset, and per teacher the settings and coverage.
std::string summarize_teacher_cache(const H5File& file);

}  // namespace ril::io
