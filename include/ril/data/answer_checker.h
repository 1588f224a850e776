// The rule-based answer reward: extracts the final answer from a free-text response and
// compares it with the ground truth. It is built to be hard to fool, since the policy is
// trained against it:
// - the answer comes from "Answer:" lines (also "Final answer:", "the answer is",
//   "<answer>...</answer>"); if there
//   is none, from the last clause of the response, then (yes/no, options) the first;
// - every candidate of the expected kind in those places must agree: "Answer: 3 or 4",
//   "Answer: yes/no", two "Answer:" lines that disagree, and "Answer: 3" followed by
//   another number on a later line are all wrong;
// - an echo of the question is removed first, so numbers or words in the question do not count;
// - empty responses, responses over `max_response_bytes` and responses without a candidate of
//   the expected kind are wrong; bytes outside ASCII act as separators (no UTF-8 decoding, so
//   invalid UTF-8 cannot break it).
// Kinds follow the ground truth: numbers ("3" == "3.0" == "three" == "+3"), yes/no, colour
// words (grey == gray), option letters A-H ("B" == "(B)"), else normalised free text
// (lower case, punctuation dropped, whitespace collapsed).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace ril::data {

enum class AnswerKind { kNumber, kYesNo, kColour, kOption, kText };
const char* answer_kind_name(AnswerKind kind);

// The kind of a ground-truth answer; throws ril::Error for an empty one.
AnswerKind classify_answer(const std::string& ground_truth);
// Canonical form of `text` read as `kind`, or nullopt when it is not one ("three" -> "3").
std::optional<std::string> normalize_answer(const std::string& text, AnswerKind kind);

struct AnswerCheckOptions {
  size_t max_response_bytes = 8192;  // longer responses are wrong outright (and not scanned)
};

struct AnswerVerdict {
  bool correct = false;
  AnswerKind kind = AnswerKind::kText;
  std::string expected;   // normalised ground truth
  std::string extracted;  // normalised answer found in the response, empty if none
  std::string reason;     // why it is wrong (or "match")
};

class AnswerChecker {
 public:
  explicit AnswerChecker(AnswerCheckOptions options = {}) : options_(options) {}

  // `question` (optional) is removed from the response before extraction.
  AnswerVerdict check(const std::string& response, const std::string& ground_truth,
                      const std::string& question = "") const;
  // The extracted, normalised answer of `kind`, or nullopt (none, or conflicting ones).
  std::optional<std::string> extract(const std::string& response, AnswerKind kind,
                                     const std::string& question = "") const;

 private:
  AnswerCheckOptions options_;
};

}  // namespace ril::data
