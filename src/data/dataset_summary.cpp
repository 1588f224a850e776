#include "ril/data/dataset_summary.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>

#include "ril/common/error.h"
#include "ril/data/dataset.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::data {
namespace {

std::string format(const char* fmt, double a) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), fmt, a);
  return buffer;
}

std::string pad(const std::string& s, size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

struct Stats {
  double mean = 0;
  int64_t min = 0, p50 = 0, p95 = 0, max = 0;
};

Stats stats_of(std::vector<int64_t> values) {
  Stats s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  s.mean = sum / static_cast<double>(values.size());
  s.min = values.front();
  s.max = values.back();
  // Nearest-rank percentiles: the smallest value with at least p% of values at or below it.
  auto rank = [&](double p) {
    const size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::max<size_t>(r, 1) - 1];
  };
  s.p50 = rank(0.50);
  s.p95 = rank(0.95);
  return s;
}

int64_t word_count(const std::string& text) {
  int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

std::string stats_row(const std::string& name, const std::vector<std::string>& texts,
                      const std::function<int64_t(const std::string&)>& measure) {
  std::vector<int64_t> values;
  values.reserve(texts.size());
  for (const std::string& t : texts) values.push_back(measure(t));
  const Stats s = stats_of(values);
  return cat("    ", pad(name, 18), pad(format("%.1f", s.mean), 8, true), pad(std::to_string(s.min), 6, true),
             pad(std::to_string(s.p50), 6, true), pad(std::to_string(s.p95), 6, true),
             pad(std::to_string(s.max), 7, true), "\n");
}

}  // namespace

std::string summarize_dataset(const io::H5File& file) { return summarize_dataset(file, SummaryOptions{}); }

std::string summarize_dataset(const io::H5File& f, const SummaryOptions& options) {
  for (const char* part : {"question", "answer", "family", "split", "images"}) {
    RIL_CHECK(f.exists(part), "dataset ", f.path(), " lacks /", part, "; is it a ril dataset file?");
  }
  const std::vector<std::string> families = split_names(f.has_attr("/", "families") ? f.attr_string("/", "families") : "");
  const std::vector<std::string> styles =
      f.has_attr("/", "rationale_styles") ? split_names(f.attr_string("/", "rationale_styles")) : std::vector<std::string>{};
  const std::vector<int32_t> family = f.read_vector<int32_t>("family");
  const std::vector<uint8_t> split = f.read_vector<uint8_t>("split");
  const std::vector<std::string> questions = f.read_text("question");
  const std::vector<std::string> answers = f.read_text("answer");
  const std::vector<int64_t> image_shape = f.shape("images");
  const size_t n = questions.size();

  std::string out = cat("dataset ", f.path(), "\n");
  out += cat("  generator ", f.has_attr("/", "generator") ? f.attr_string("/", "generator") : "?");
  if (f.has_attr("/", "seed")) out += cat(", seed ", f.attr_int("/", "seed"));
  out += cat(", ", n, " examples, images uint8 [");
  for (size_t i = 0; i < image_shape.size(); ++i) out += cat(i ? ", " : "", image_shape[i]);
  out += "]\n";
  if (f.has_attr("/", "max_objects")) {
    out += cat("  difficulty: objects ", f.attr_int("/", "min_objects"), "-", f.attr_int("/", "max_objects"),
               ", max count ", f.attr_int("/", "max_count"), ", max digits ", f.attr_int("/", "max_digits"),
               ", colour jitter ", f.attr_int("/", "colour_jitter"), ", noise ", f.attr_int("/", "noise"),
               f.has_attr("/", "grid") && f.attr_int("/", "grid") > 0 ? cat(", grid ", f.attr_int("/", "grid")) : "",
               "\n");
  }
  out += cat("  rationale styles: ", styles.empty() ? "(none)" : join_names(styles), "\n");

  // Counts per family and split.
  std::vector<std::array<int64_t, 3>> counts(families.size(), {0, 0, 0});
  std::array<int64_t, 3> totals = {0, 0, 0};
  for (size_t i = 0; i < std::min(n, std::min(family.size(), split.size())); ++i) {
    if (family[i] < 0 || static_cast<size_t>(family[i]) >= families.size() || split[i] > 2) continue;
    ++counts[static_cast<size_t>(family[i])][split[i]];
    ++totals[split[i]];
  }
  out += cat("  examples per family and split:\n    ", pad("family", 14), pad("train", 7, true), pad("val", 7, true),
             pad("test", 7, true), pad("total", 8, true), "\n");
  for (size_t k = 0; k < families.size(); ++k) {
    const auto& c = counts[k];
    out += cat("    ", pad(families[k], 14), pad(std::to_string(c[0]), 7, true), pad(std::to_string(c[1]), 7, true),
               pad(std::to_string(c[2]), 7, true), pad(std::to_string(c[0] + c[1] + c[2]), 8, true), "\n");
  }
  out += cat("    ", pad("all", 14), pad(std::to_string(totals[0]), 7, true), pad(std::to_string(totals[1]), 7, true),
             pad(std::to_string(totals[2]), 7, true), pad(std::to_string(totals[0] + totals[1] + totals[2]), 8, true),
             "\n");

  // Text lengths.
  std::vector<std::pair<std::string, std::vector<std::string>>> texts = {{"question", questions}, {"answer", answers}};
  for (const std::string& style : styles) {
    if (f.exists("rationale/" + style)) texts.emplace_back("rationale/" + style, f.read_text("rationale/" + style));
  }
  const std::string header = cat("    ", pad("", 18), pad("mean", 8, true), pad("min", 6, true), pad("p50", 6, true),
                                  pad("p95", 6, true), pad("max", 7, true), "\n");
  out += "  text length in bytes:\n" + header;
  for (const auto& [name, t] : texts) out += stats_row(name, t, [](const std::string& s) { return static_cast<int64_t>(s.size()); });
  out += "  text length in words:\n" + header;
  for (const auto& [name, t] : texts) out += stats_row(name, t, word_count);
  if (!options.tokenizer_path.empty()) {
    const text::BpeTokenizer tokenizer = text::BpeTokenizer::from_tokenizer_json(options.tokenizer_path);
    text::EncodeOptions encode;
    encode.allow_special = false;
    encode.invalid_utf8 = text::InvalidUtf8::kReplace;
    out += cat("  text length in tokens (", options.tokenizer_path, ", vocab ", tokenizer.vocab_size(), "):\n", header);
    for (const auto& [name, t] : texts) {
      out += stats_row(name, t, [&](const std::string& s) { return static_cast<int64_t>(tokenizer.encode(s, encode).size()); });
    }
  }

  // Answer distribution per family: a family dominated by one answer is too easy to guess.
  out += "  most common answers per family:\n";
  for (size_t k = 0; k < families.size(); ++k) {
    std::map<std::string, int64_t> histogram;
    int64_t total = 0;
    for (size_t i = 0; i < std::min(n, family.size()); ++i) {
      if (family[i] == static_cast<int32_t>(k)) {
        ++histogram[answers[i].size() > 24 ? answers[i].substr(0, 21) + "..." : answers[i]];
        ++total;
      }
    }
    std::vector<std::pair<int64_t, std::string>> ranked;
    for (const auto& [answer, count] : histogram) ranked.emplace_back(-count, answer);
    std::sort(ranked.begin(), ranked.end());
    out += cat("    ", pad(families[k], 14), histogram.size(), " distinct:");
    for (size_t r = 0; r < ranked.size() && r < static_cast<size_t>(options.top_answers); ++r) {
      out += cat(" ", ranked[r].second, " (", format("%.0f", 100.0 * static_cast<double>(-ranked[r].first) / total), "%)");
    }
    out += "\n";
  }
  return out;
}

}  // namespace ril::data
