// `ril-data import`: LLaVA-style instruction data into a dataset file (layout in dataset.h).
//
// Input: a JSON array (.json) or one JSON object per line (.jsonl) of records
//   {"id": "...", "image": "rel/path.png",
//    "conversations": [{"from": "human", "value": "<image>\nWhat is ...?"},
//                      {"from": "gpt", "value": "... Answer: 3"}, ...],
//    "family": "optional tag", "split": "optional train|val|test"}
// Each human/gpt pair becomes one example with the record's image: question = the human turn
// without the "<image>" token, rationale "reference" = the gpt turn, answer = the text after
// the gpt turn's last "Answer:" if it has one, else the whole gpt turn.
// Images (PNG/JPEG via stb) are resized to the target size. Bad records (missing or
// undecodable image, malformed conversation) are reported with their line (JSONL) or record
// number (JSON array); OnError decides whether to skip them or stop.
// Records without "split" are assigned by a hash of (seed, id or record number).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ril/data/image_codec.h"

namespace ril::data {

enum class OnError { kSkip, kFail };
OnError parse_on_error(const std::string& name);  // "skip" | "fail"

struct ImportOptions {
  std::string input;
  std::string image_root;           // image paths relative to this; "" = the input's directory
  std::string output;
  int image_size = 64;              // square target
  ResizeMode resize = ResizeMode::kPad;
  OnError on_error = OnError::kSkip;
  std::string family = "imported";  // for records without "family"
  double val_fraction = 0.05;       // for records without "split"
  double test_fraction = 0.05;
  int64_t seed = 1;
  bool overwrite = false;
  void validate() const;            // throws ril::ConfigError
};

struct LlavaTurnPair {
  std::string question;  // "<image>" removed, trimmed
  std::string response;
};

struct LlavaRecord {
  int64_t line = 0;      // 1-based line (JSONL) or record number (JSON array)
  std::string id;
  std::string image;     // as written in the record
  std::string family;    // "" if absent
  std::string split;     // "" if absent
  std::vector<LlavaTurnPair> pairs;
};

// Parses one record; throws ril::Error describing what is malformed (no location: the caller
// adds it).
LlavaRecord parse_llava_record(const std::string& json_text);

// The answer stored for a gpt response: after its last "Answer:", else the whole text.
std::string answer_from_response(const std::string& response);

struct ImportIssue {
  int64_t line = 0;
  std::string message;
};

struct ImportReport {
  std::string location_kind = "line";  // "line" (JSONL) or "record" (JSON array)
  int64_t records = 0;                 // records read
  int64_t imported_records = 0;
  int64_t examples = 0;                // examples written (one per human/gpt pair)
  int64_t skipped = 0;                 // records skipped
  std::vector<ImportIssue> issues;
  std::string summary() const;         // multi-line, lists every issue
};

// Writes options.output atomically. With OnError::kFail the first bad record throws
// ril::Error "<input>:<line>: <problem>" and nothing is written.
ImportReport import_llava(const ImportOptions& options);

}  // namespace ril::data
