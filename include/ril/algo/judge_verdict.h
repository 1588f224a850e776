// The LLM judge's verdict (DESIGN.md section 1, step 5; issue 16): the judge writes a short
// explanation, then 0 or 1 inside <answer></answer>. Its output is parsed strictly:
//   - exactly one "<answer>" and one "</answer>", the opening one first;
//   - between them, after trimming ASCII whitespace, exactly "0" or "1";
//   - nothing but ASCII whitespace after "</answer>";
//   - any text before "<answer>" (the explanation) is allowed.
// Anything else -- no tags, an unclosed tag, two verdicts, "yes" / "2" / "01" / "" inside, text
// after the closing tag, an empty output, an output cut at the token budget -- is kUnparsed, with
// a reason for the log, and scores 0 upstream (counted per step in the metrics, never a crash).
// Tags are matched byte for byte (lower case, no attributes or spaces inside the brackets).
// Strict on purpose: the student is trained against this reward, so a judge output that could
// be read two ways must not become a 1.
// Pure string work; called by whichever rank runs the judge (the judge role, `ril eval --judge`).
#pragma once

#include <string>
#include <string_view>

namespace ril::algo {

enum class JudgeDecision : int { kWrong = 0, kCorrect = 1, kUnparsed = -1 };
const char* judge_decision_name(JudgeDecision decision);  // "wrong", "correct", "unparsed"

struct JudgeVerdict {
  JudgeDecision decision = JudgeDecision::kUnparsed;
  // Why the output did not parse ("no <answer> tag", "text after </answer>: '...'"), or
  // "parsed". Quoted snippets are clipped and escaped, so the reason fits on one log line.
  std::string reason;

  bool parsed() const { return decision != JudgeDecision::kUnparsed; }
  // The answer reward: 1 for kCorrect, 0 for kWrong and for kUnparsed.
  int score() const { return decision == JudgeDecision::kCorrect ? 1 : 0; }
};

// Never throws on any input (any bytes, any length).
JudgeVerdict parse_judge_verdict(std::string_view output);

}  // namespace ril::algo
