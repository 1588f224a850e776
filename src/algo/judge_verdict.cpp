#include "ril/algo/judge_verdict.h"

#include <cstddef>
#include <cstdio>
#include <vector>

namespace ril::algo {
namespace {

constexpr std::string_view kOpen = "<answer>";
constexpr std::string_view kClose = "</answer>";
constexpr size_t kSnippetBytes = 40;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Start offsets of every occurrence of `needle` (which cannot overlap itself: both tags start
// with '<' and hold no other '<').
std::vector<size_t> find_all(std::string_view text, std::string_view needle) {
  std::vector<size_t> at;
  for (size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    at.push_back(pos);
  }
  return at;
}

// `text` in single quotes for a log line: at most kSnippetBytes bytes (not cut inside a UTF-8
// sequence), control bytes escaped, "..." when clipped.
std::string quote(std::string_view text) {
  size_t n = text.size();
  const bool clipped = n > kSnippetBytes;
  if (clipped) {
    n = kSnippetBytes;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::string out = "'";
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += clipped ? "'..." : "'";
  return out;
}

JudgeVerdict unparsed(std::string reason) { return {JudgeDecision::kUnparsed, std::move(reason)}; }

}  // namespace

const char* judge_decision_name(JudgeDecision decision) {
  switch (decision) {
    case JudgeDecision::kWrong: return "wrong";
    case JudgeDecision::kCorrect: return "correct";
    default: return "unparsed";
  }
}

JudgeVerdict parse_judge_verdict(std::string_view output) {
  if (trim(output).empty()) return unparsed(output.empty() ? "empty output" : "blank output");
  const std::vector<size_t> opens = find_all(output, kOpen);
  const std::vector<size_t> closes = find_all(output, kClose);
  if (opens.empty() && closes.empty()) return unparsed("no <answer> tag");
  if (opens.empty()) return unparsed("</answer> without <answer>");
  if (opens.size() > 1) {
    return unparsed(std::to_string(opens.size()) + " <answer> tags (exactly one verdict expected)");
  }
  if (closes.empty()) return unparsed("<answer> not closed");
  if (closes.size() > 1) {
    return unparsed(std::to_string(closes.size()) + " </answer> tags (exactly one verdict expected)");
  }
  const size_t open = opens.front();
  const size_t close = closes.front();
  if (close < open) return unparsed("</answer> before <answer>");

  const size_t body_start = open + kOpen.size();
  const std::string_view body = trim(output.substr(body_start, close - body_start));
  const std::string_view after = output.substr(close + kClose.size());
  if (!trim(after).empty()) return unparsed("text after </answer>: " + quote(trim(after)));
  if (body == "1") return {JudgeDecision::kCorrect, "parsed"};
  if (body == "0") return {JudgeDecision::kWrong, "parsed"};
  if (body.empty()) return unparsed("empty <answer></answer> (0 or 1 expected)");
  return unparsed(quote(body) + " inside <answer></answer> (0 or 1 expected)");
}

}  // namespace ril::algo
