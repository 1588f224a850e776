#include "ril/data/answer_checker.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "ril/common/error.h"

namespace ril::data {
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string to_lower(std::string s) {
  for (char& c : s) c = lower(c);
  return s;
}

// Bytes outside printable ASCII become spaces (newlines kept): no UTF-8 decoding happens, so
// invalid sequences cannot throw or glue tokens together.
std::string sanitize(const std::string& text) {
  std::string out(text.size(), ' ');
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\r') out[i] = '\n';
    else if (c >= 0x20 && c < 0x7f) out[i] = static_cast<char>(c);
  }
  return out;
}

struct Token {
  std::string text;   // original case
  std::string lower;
  bool parenthesised = false;  // "(B)"
};

// Maximal runs of letters/digits; "3.5" and a leading sign before a digit stay in the token.
std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const bool sign = (s[i] == '-' || s[i] == '+') && i + 1 < s.size() && is_digit(s[i + 1]) &&
                      (i == 0 || !is_alnum(s[i - 1]));
    if (!is_alnum(s[i]) && !sign) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (sign) ++i;
    while (i < s.size()) {
      if (is_alnum(s[i])) {
        ++i;
      } else if (s[i] == '.' && i > start && is_digit(s[i - 1]) && i + 1 < s.size() && is_digit(s[i + 1])) {
        ++i;
      } else {
        break;
      }
    }
    Token t;
    t.text = s.substr(start, i - start);
    t.lower = to_lower(t.text);
    t.parenthesised = start > 0 && s[start - 1] == '(' && i < s.size() && s[i] == ')';
    tokens.push_back(std::move(t));
  }
  return tokens;
}

// "+003.50" -> "3.5", "-0" -> "0"; string-based, so no overflow or float rounding.
std::optional<std::string> normalize_numeral(const std::string& token) {
  size_t i = 0;
  bool negative = false;
  if (i < token.size() && (token[i] == '-' || token[i] == '+')) negative = token[i++] == '-';
  std::string whole, frac;
  while (i < token.size() && is_digit(token[i])) whole += token[i++];
  if (i < token.size() && token[i] == '.') {
    ++i;
    while (i < token.size() && is_digit(token[i])) frac += token[i++];
    if (frac.empty()) return std::nullopt;
  }
  if (i != token.size() || whole.empty()) return std::nullopt;
  whole.erase(0, std::min(whole.find_first_not_of('0'), whole.size() - 1));
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  std::string out = frac.empty() ? whole : whole + "." + frac;
  if (negative && out != "0") out = "-" + out;
  return out;
}

int number_word(const std::string& w) {
  static const char* kUnits[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                 "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                                 "seventeen", "eighteen", "nineteen"};
  static const char* kTens[] = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
  for (int i = 0; i < 20; ++i) {
    if (w == kUnits[i]) return i;
  }
  for (int i = 0; i < 8; ++i) {
    if (w == kTens[i]) return 20 + 10 * i;
  }
  if (w == "none") return 0;
  return -1;
}

const std::set<std::string>& colour_words() {
  static const std::set<std::string> kColours = {"red",  "green", "blue",  "yellow", "purple", "orange", "black",
                                                 "white", "gray", "pink", "brown", "cyan", "magenta", "violet"};
  return kColours;
}

// Normalised candidates of `kind` in order of appearance.
std::vector<std::string> candidates(const std::vector<Token>& tokens, AnswerKind kind) {
  std::vector<std::string> out;
  switch (kind) {
    case AnswerKind::kNumber:
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (auto n = normalize_numeral(tokens[i].text)) {
          out.push_back(*n);
          continue;
        }
        int value = number_word(tokens[i].lower);
        if (value < 0) continue;
        // "twenty one" / "twenty-one" is one number, not two.
        if (value >= 20 && i + 1 < tokens.size()) {
          const int unit = number_word(tokens[i + 1].lower);
          if (unit >= 1 && unit <= 9) {
            value += unit;
            ++i;
          }
        }
        out.push_back(std::to_string(value));
      }
      break;
    case AnswerKind::kYesNo:
      for (const Token& t : tokens) {
        if (t.lower == "yes" || t.lower == "no") out.push_back(t.lower);
      }
      break;
    case AnswerKind::kColour:
      for (const Token& t : tokens) {
        const std::string w = t.lower == "grey" ? "gray" : t.lower;
        if (colour_words().count(w)) out.push_back(w);
      }
      break;
    case AnswerKind::kOption: {
      // "(B)" wins over bare capitals, which may be the article "A".
      const bool any_parenthesised = std::any_of(tokens.begin(), tokens.end(), [](const Token& t) {
        return t.parenthesised && t.text.size() == 1 && t.text[0] >= 'A' && t.text[0] <= 'H';
      });
      for (const Token& t : tokens) {
        if (t.text.size() == 1 && t.text[0] >= 'A' && t.text[0] <= 'H' && (t.parenthesised || !any_parenthesised)) {
          out.push_back(t.text);
        }
      }
      // A lone lower-case letter ("Answer: b") is an option too; inside a sentence "a" is an article.
      if (out.empty() && tokens.size() == 1 && tokens[0].lower.size() == 1 && tokens[0].lower[0] >= 'a' &&
          tokens[0].lower[0] <= 'h') {
        out.push_back(std::string(1, static_cast<char>(tokens[0].lower[0] - 'a' + 'A')));
      }
      break;
    }
    case AnswerKind::kText:
      break;
  }
  return out;
}

std::string normalize_text(const std::string& text) {
  std::string out;
  for (const Token& t : tokenize(sanitize(text))) {
    if (out.empty() && (t.lower == "a" || t.lower == "an" || t.lower == "the")) continue;
    out += (out.empty() ? "" : " ") + t.lower;
  }
  return out;
}

// The single value all candidates agree on; nullopt with `reason` set otherwise.
std::optional<std::string> agree(const std::vector<std::string>& values, std::string& reason) {
  const std::set<std::string> distinct(values.begin(), values.end());
  if (distinct.empty()) {
    reason = "no answer of the expected kind";
    return std::nullopt;
  }
  if (distinct.size() > 1) {
    std::string list;
    for (const std::string& v : distinct) list += (list.empty() ? "" : ", ") + v;
    reason = "conflicting answers: " + list;
    return std::nullopt;
  }
  return *distinct.begin();
}

// Parts of the response that state the answer: "Answer:" / "answer is" lines, rest of line.
// `tail` receives the text after the last of them (a second thought there is a hedge too).
std::vector<std::string> answer_lines(const std::string& text, const std::string& low, std::string& tail) {
  std::vector<std::string> lines;
  size_t pos = 0, last_end = 0;
  while ((pos = low.find("answer", pos)) != std::string::npos) {
    const bool word_start = pos == 0 || !std::isalpha(static_cast<unsigned char>(low[pos - 1]));
    size_t after = pos + 6;
    pos = after;
    if (!word_start) continue;
    while (after < low.size() && (low[after] == ' ' || low[after] == '*' || low[after] == '_')) ++after;
    size_t start;
    if (after < low.size() && low[after] == ':') {
      start = after + 1;
    } else if (low.compare(after, 2, "is") == 0 && (after + 2 == low.size() || !is_alnum(low[after + 2]))) {
      start = after + 2;
    } else {
      continue;
    }
    const size_t end = std::min(low.find('\n', start), low.size());
    lines.push_back(text.substr(start, end - start));
    last_end = std::max(last_end, end);
    pos = end;
  }
  // "<answer>3</answer>" (the judge prompt's format), closed on the same or a later line.
  for (size_t open = low.find("<answer>"); open != std::string::npos; open = low.find("<answer>", open + 8)) {
    const size_t start = open + 8;
    const size_t close = low.find("</answer>", start);
    const size_t end = close == std::string::npos ? std::min(low.find('\n', start), low.size()) : close;
    lines.push_back(text.substr(start, end - start));
    last_end = std::max(last_end, close == std::string::npos ? end : close + 9);
  }
  if (!lines.empty()) tail = text.substr(last_end);
  return lines;
}

// Cuts the text at clause delimiters; returns the clauses, trimmed, non-empty.
std::vector<std::string> clauses(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool next_is_break = i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n';
    const bool delimiter = c == '\n' || ((c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?') &&
                                         next_is_break);
    if (delimiter) {
      if (current.find_first_not_of(' ') != std::string::npos) out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (current.find_first_not_of(' ') != std::string::npos) out.push_back(current);
  return out;
}

}  // namespace

const char* answer_kind_name(AnswerKind kind) {
  switch (kind) {
    case AnswerKind::kNumber: return "number";
    case AnswerKind::kYesNo: return "yes/no";
    case AnswerKind::kColour: return "colour";
    case AnswerKind::kOption: return "option";
    case AnswerKind::kText: return "text";
  }
  return "?";
}

AnswerKind classify_answer(const std::string& ground_truth) {
  const std::vector<Token> tokens = tokenize(sanitize(ground_truth));
  RIL_CHECK(!tokens.empty(), "empty ground-truth answer '", ground_truth, "'");
  if (tokens.size() == 1 || (tokens.size() == 2 && number_word(tokens[0].lower) >= 20)) {
    for (AnswerKind kind : {AnswerKind::kNumber, AnswerKind::kYesNo, AnswerKind::kColour, AnswerKind::kOption}) {
      if (candidates(tokens, kind).size() == 1) return kind;
    }
  }
  return AnswerKind::kText;
}

std::optional<std::string> normalize_answer(const std::string& text, AnswerKind kind) {
  if (kind == AnswerKind::kText) {
    std::string n = normalize_text(text);
    if (n.empty()) return std::nullopt;
    return n;
  }
  std::string reason;
  return agree(candidates(tokenize(sanitize(text)), kind), reason);
}

namespace {

std::optional<std::string> extract_with_reason(const std::string& response, AnswerKind kind,
                                               const std::string& question, size_t max_bytes, std::string& reason) {
  if (response.size() > max_bytes) {
    reason = cat("response too long (", response.size(), " bytes > ", max_bytes, ")");
    return std::nullopt;
  }
  std::string text = sanitize(response);
  std::string low = to_lower(text);
  // Blank out every echo of the question (same length, so offsets stay aligned).
  const std::string q = to_lower(sanitize(question));
  const size_t q_begin = q.find_first_not_of(" \n"), q_end = q.find_last_not_of(" \n");
  if (q_begin != std::string::npos) {
    const std::string needle = q.substr(q_begin, q_end - q_begin + 1);
    for (size_t pos = low.find(needle); pos != std::string::npos; pos = low.find(needle, pos + needle.size())) {
      std::fill(text.begin() + static_cast<std::ptrdiff_t>(pos),
                text.begin() + static_cast<std::ptrdiff_t>(pos + needle.size()), ' ');
      std::fill(low.begin() + static_cast<std::ptrdiff_t>(pos),
                low.begin() + static_cast<std::ptrdiff_t>(pos + needle.size()), ' ');
    }
  }
  if (text.find_first_not_of(" \n") == std::string::npos) {
    reason = "empty response";
    return std::nullopt;
  }

  std::string tail;
  const std::vector<std::string> lines = answer_lines(text, low, tail);
  if (!lines.empty()) {
    // Explicit answers exist: they alone count, and they must all agree, also with anything
    // of the same kind written after the last one ("Answer: 3. Or maybe 4.").
    if (kind == AnswerKind::kText) {
      std::set<std::string> distinct;
      for (const std::string& line : lines) {
        const std::string n = normalize_text(line);
        if (!n.empty()) distinct.insert(n);
      }
      std::vector<std::string> values(distinct.begin(), distinct.end());
      return agree(values, reason);
    }
    std::vector<std::string> values;
    for (const std::string& line : lines) {
      const std::vector<std::string> c = candidates(tokenize(line), kind);
      values.insert(values.end(), c.begin(), c.end());
    }
    if (values.empty()) return agree(values, reason);
    const std::vector<std::string> after = candidates(tokenize(tail), kind);
    values.insert(values.end(), after.begin(), after.end());
    return agree(values, reason);
  }

  // No explicit answer: the last clause, then (yes/no, option) the first clause.
  const std::vector<std::string> parts = clauses(text);
  if (kind == AnswerKind::kText) {
    const std::string whole = normalize_text(text);
    const std::string last = parts.empty() ? "" : normalize_text(parts.back());
    if (whole.empty()) {
      reason = "empty response";
      return std::nullopt;
    }
    return parts.size() <= 1 ? whole : last;
  }
  if (parts.empty()) {  // only punctuation or spaces: nothing to read
    reason = "no answer of the expected kind";
    return std::nullopt;
  }
  std::optional<std::string> found = agree(candidates(tokenize(parts.back()), kind), reason);
  if (!found && reason.rfind("no answer", 0) == 0 && parts.size() > 1 &&
      (kind == AnswerKind::kYesNo || kind == AnswerKind::kOption)) {
    found = agree(candidates(tokenize(parts.front()), kind), reason);
  }
  if (found && (kind == AnswerKind::kYesNo || kind == AnswerKind::kOption)) {
    // Without an explicit answer line, a yes/no or option response must not name another
    // value anywhere ("Yes. Or no." is a hedge).
    std::optional<std::string> everywhere = agree(candidates(tokenize(text), kind), reason);
    if (!everywhere) return std::nullopt;
  }
  return found;
}

}  // namespace

std::optional<std::string> AnswerChecker::extract(const std::string& response, AnswerKind kind,
                                                  const std::string& question) const {
  std::string reason;
  return extract_with_reason(response, kind, question, options_.max_response_bytes, reason);
}

AnswerVerdict AnswerChecker::check(const std::string& response, const std::string& ground_truth,
                                   const std::string& question) const {
  AnswerVerdict v;
  v.kind = classify_answer(ground_truth);
  const std::optional<std::string> expected = normalize_answer(ground_truth, v.kind);
  RIL_CHECK(expected.has_value(), "ground-truth answer '", ground_truth, "' has no normal form as ",
            answer_kind_name(v.kind));
  v.expected = *expected;
  std::optional<std::string> got =
      extract_with_reason(response, v.kind, question, options_.max_response_bytes, v.reason);
  if (!got) return v;
  v.extracted = *got;
  v.correct = v.extracted == v.expected;
  v.reason = v.correct ? "match" : cat("expected ", v.expected, ", got ", v.extracted);
  return v;
}

}  // namespace ril::data
