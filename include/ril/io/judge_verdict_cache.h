// The judge's verdicts on teacher responses (issue 16, item 3), kept for the whole run in
// <run-dir>/judge_verdicts.h5 (kind "judge_verdicts"): a cached teacher response never changes,
// so each one is judged once per run, not once per step it is picked in.
//
// Layout:
//   /              kind="judge_verdicts", format_version, judge (model dir), prompt (template
//                  text), judge_max_new_tokens, response_budget (--max-new-tokens: teacher texts
//                  are cut to it before they are judged), rows
//   /question_id   int64 [rows]    the dataset question
//   /decision      int32 [rows]    algo::JudgeDecision: 1 correct, 0 wrong, -1 unparsed or cut
//   /response      text [rows]     the judged text (the key, with question_id: exact, no hash)
// Rows are sorted by (question_id, response), so a run killed and resumed writes the same file as
// an uninterrupted one.
//
// Writes: save() replaces the whole file atomically (io/atomic_file.h: temporary, fsync, rename),
// only when verdicts were added since the last save. A run killed with SIGKILL keeps the last
// saved file; its resumed run judges only the teacher responses missing from it. The file is
// small (one row per distinct teacher response the run has seen).
// A file written with other settings (another judge, prompt or budget) is refused on open with a
// ConfigError naming the setting: its verdicts would not be this judge's.
// Which ranks call: the judge root only (one writer).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace ril::io {

class H5File;

constexpr const char* kJudgeVerdictsKind = "judge_verdicts";

struct JudgeVerdictSettings {
  std::string judge;                  // model directory
  std::string prompt;                 // template text
  int64_t judge_max_new_tokens = 0;
  int64_t response_budget = 0;        // --max-new-tokens
};

class JudgeVerdictCache {
 public:
  // Reads `path` when it exists (ConfigError when its settings differ from `settings`), else
  // starts empty; nothing is written until save().
  JudgeVerdictCache(std::string path, JudgeVerdictSettings settings);

  // The cached decision (algo::JudgeDecision as int) of `response` to `question`.
  std::optional<int> find(int64_t question, const std::string& response) const;
  // Records a decision (an existing entry keeps its first value: verdicts do not change).
  void add(int64_t question, const std::string& response, int decision);
  // Writes the file when anything was added since the last save (atomically).
  void save();

  int64_t size() const { return static_cast<int64_t>(verdicts_.size()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  JudgeVerdictSettings settings_;
  std::map<std::pair<int64_t, std::string>, int> verdicts_;
  bool dirty_ = false;
};

// `ril info` summary: the settings and the counts of correct / wrong / unparsed verdicts.
std::string summarize_judge_verdicts(const H5File& file);

}  // namespace ril::io
