#include "ril/algo/judge_examples.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "ril/common/error.h"
#include "ril/common/seed.h"

namespace ril::algo {
namespace {

constexpr uint64_t kJudgeExampleStream = 0x4a75646765ULL;  // "Judge"

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim_end(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// `text` with every whole-word, case-insensitive occurrence of `word` replaced by `by`; `count`
// receives how many.
std::string replace_word(const std::string& text, const std::string& word, const std::string& by, int& count) {
  count = 0;
  if (word.empty()) return text;
  const std::string low = lower(text), needle = lower(word);
  std::string out;
  size_t from = 0;
  for (size_t pos = low.find(needle); pos != std::string::npos; pos = low.find(needle, pos + needle.size())) {
    const bool starts = pos == 0 || !is_word_char(low[pos - 1]);
    const size_t end = pos + needle.size();
    const bool ends = end == low.size() || !is_word_char(low[end]);
    if (!starts || !ends) continue;
    out += text.substr(from, pos - from) + by;
    from = end;
    ++count;
  }
  return out + text.substr(from);
}

// Start of the last "answer" word (any case), or npos.
size_t last_answer_word(const std::string& text) {
  const std::string low = lower(text);
  size_t found = std::string::npos;
  for (size_t pos = low.find("answer"); pos != std::string::npos; pos = low.find("answer", pos + 6)) {
    if (pos == 0 || !is_word_char(low[pos - 1])) found = pos;
  }
  return found;
}

}  // namespace

std::string judge_target(const data::AnswerVerdict& v, const std::string& ground_truth) {
  std::string explanation;
  if (!v.extracted.empty()) {
    explanation = cat(v.extracted, " vs ", ground_truth, ".");
  } else if (v.reason.rfind("conflicting", 0) == 0) {
    explanation = cat("two vs ", ground_truth, ".");
  } else {
    explanation = cat("none vs ", ground_truth, ".");
  }
  return cat(explanation, " <answer>", v.correct ? 1 : 0, "</answer>");
}

JudgeExampleMaker::JudgeExampleMaker(const data::Dataset& dataset,
                                     std::map<int64_t, std::vector<std::string>> teacher_responses, JudgePrompt prompt,
                                     JudgeExampleOptions options)
    : dataset_(dataset), teacher_responses_(std::move(teacher_responses)), prompt_(std::move(prompt)), options_(options) {
  RIL_CONFIG_CHECK(options_.per_question >= 1, "judge examples: --per-question must be >= 1, got ",
                   options_.per_question);
  for (int64_t i = 0; i < dataset_.size(); ++i) by_family_[dataset_.family(i)].push_back(i);
}

std::string JudgeExampleMaker::other_answer(int64_t question_id, data::DataRng& rng) const {
  const std::string& truth = dataset_.answer(question_id);
  const data::AnswerKind kind = data::classify_answer(truth);
  const std::optional<std::string> expected = data::normalize_answer(truth, kind);
  const std::vector<int64_t>& family = by_family_.at(dataset_.family(question_id));
  // A few random draws, then a scan: families with one answer value have no other answer.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string& a = dataset_.answer(rng.pick(family));
    if (data::classify_answer(a) == kind && data::normalize_answer(a, kind) != expected) return a;
  }
  for (int64_t q : family) {
    const std::string& a = dataset_.answer(q);
    if (data::classify_answer(a) == kind && data::normalize_answer(a, kind) != expected) return a;
  }
  return "";
}

JudgeExample JudgeExampleMaker::labelled(int64_t question_id, std::string variant, std::string response) const {
  JudgeExample e;
  e.question_id = question_id;
  e.variant = std::move(variant);
  e.response = std::move(response);
  const std::string& question = dataset_.question(question_id);
  const std::string& truth = dataset_.answer(question_id);
  const data::AnswerVerdict v = checker_.check(e.response, truth, question);
  e.correct = v.correct;
  e.prompt = prompt_.render(question, truth, e.response);
  e.target = judge_target(v, truth);
  return e;
}

std::vector<JudgeExample> JudgeExampleMaker::candidates(int64_t question_id, data::DataRng& rng) const {
  std::vector<JudgeExample> out;
  std::vector<std::string> good;  // sources for the damaged variants
  if (auto it = teacher_responses_.find(question_id); it != teacher_responses_.end() && !it->second.empty()) {
    const std::string& t = rng.pick(it->second);
    out.push_back(labelled(question_id, "teacher", t));
    if (out.back().correct) good.push_back(t);
  }
  for (const std::string& style : dataset_.rationale_styles()) {
    const std::string& r = dataset_.rationale(question_id, style);
    out.push_back(labelled(question_id, "rationale", r));
    if (out.back().correct) good.push_back(r);
  }
  if (good.empty()) {  // nothing right to damage: the ground truth as a bare answer
    good.push_back(cat("Answer: ", dataset_.answer(question_id)));
  }
  const std::string& truth = dataset_.answer(question_id);
  const std::string other = other_answer(question_id, rng);
  if (!other.empty()) {
    // Two swaps (other sources, other answers where the draws allow): a clean answer that differs
    // from the ground truth is the case that needs the comparison, the rest are told by form.
    for (int k = 0; k < 2; ++k) {
      const std::string wrong_answer = k == 0 ? other : other_answer(question_id, rng);
      int replaced = 0;
      std::string swapped = replace_word(rng.pick(good), truth, wrong_answer, replaced);
      if (replaced == 0) swapped = cat(trim_end(swapped), "\nAnswer: ", wrong_answer);
      out.push_back(labelled(question_id, "swapped", swapped));
    }
    out.push_back(labelled(question_id, "two-answers", cat(trim_end(rng.pick(good)), "\nAnswer: ", other)));
  }
  {
    const std::string& g = rng.pick(good);
    const size_t at = last_answer_word(g);
    out.push_back(labelled(question_id, "no-answer", trim_end(at == std::string::npos ? std::string() : g.substr(0, at))));
  }
  {
    const std::string& g = rng.pick(good);
    std::vector<size_t> spaces;
    for (size_t i = 0; i < g.size(); ++i) {
      if (g[i] == ' ' || g[i] == '\n') spaces.push_back(i);
    }
    const size_t cut = spaces.empty() ? g.size() / 2 : rng.pick(spaces);
    out.push_back(labelled(question_id, "cut", trim_end(g.substr(0, cut))));
  }
  return out;
}

std::vector<JudgeExample> JudgeExampleMaker::make(int64_t question_id) const {
  data::DataRng rng(splitmix64(options_.seed ^ splitmix64(kJudgeExampleStream ^ static_cast<uint64_t>(question_id))));
  std::vector<JudgeExample> all = candidates(question_id, rng);
  std::vector<JudgeExample> right, wrong;
  std::set<std::string> seen;  // one example per distinct response
  for (JudgeExample& e : all) {
    if (!seen.insert(e.response).second) continue;
    (e.correct ? right : wrong).push_back(std::move(e));
  }
  rng.shuffle(right);
  rng.shuffle(wrong);
  // Wrong ones alternate swapped / form-only (two answers, none, cut), swapped first: about half
  // the wrong examples need the comparison (see candidates()), the rest are told by form.
  {
    std::vector<JudgeExample> swapped, form;
    for (JudgeExample& e : wrong) (e.variant == "swapped" ? swapped : form).push_back(std::move(e));
    wrong.clear();
    for (size_t i = 0; i < std::max(swapped.size(), form.size()); ++i) {
      if (i < swapped.size()) wrong.push_back(std::move(swapped[i]));
      if (i < form.size()) wrong.push_back(std::move(form[i]));
    }
  }
  const size_t want = static_cast<size_t>(options_.per_question);
  const size_t half = (want + rng.uniform_int(0, 1)) / 2;  // odd counts: either label gets the extra one
  size_t take_right = std::min(right.size(), half);
  size_t take_wrong = std::min(wrong.size(), want - take_right);
  take_right = std::min(right.size(), want - take_wrong);
  std::vector<JudgeExample> out;
  for (size_t i = 0; i < take_right; ++i) out.push_back(std::move(right[i]));
  for (size_t i = 0; i < take_wrong; ++i) out.push_back(std::move(wrong[i]));
  rng.shuffle(out);
  return out;
}

}  // namespace ril::algo
