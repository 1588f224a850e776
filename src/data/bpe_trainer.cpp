#include "ril/data/bpe_trainer.h"

#include <pcre2.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/text/unicode.h"

namespace ril::data {

void BpeTrainerOptions::validate() const {
  std::set<std::string> distinct(special_tokens.begin(), special_tokens.end());
  RIL_CONFIG_CHECK(distinct.size() == special_tokens.size(), "tokenizer: duplicate special tokens");
  for (const std::string& t : special_tokens) RIL_CONFIG_CHECK(!t.empty(), "tokenizer: empty special token");
  const int floor = 256 + static_cast<int>(special_tokens.size());
  RIL_CONFIG_CHECK(vocab_size >= floor, "tokenizer: --vocab-size ", vocab_size, " is below the ", floor,
                   " tokens that bytes and special tokens take");
  RIL_CONFIG_CHECK(min_frequency >= 1, "tokenizer: --min-frequency must be >= 1, got ", min_frequency);
}

namespace {

// Splits text into pre-tokens with the tokenizer's own regex (PCRE2, UTF + UCP), so that
// merges are learnt on exactly the pieces encode() will see.
class PreTokenizer {
 public:
  explicit PreTokenizer(const std::string& pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                          &error, &offset, nullptr);
    if (code_ == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      throw ConfigError(cat("tokenizer: bad pre-tokenizer regex at offset ", offset, ": ",
                            reinterpret_cast<const char*>(message)));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // optional speed-up; falls back silently
    match_ = pcre2_match_data_create_from_pattern(code_, nullptr);
  }
  ~PreTokenizer() {
    pcre2_match_data_free(match_);
    pcre2_code_free(code_);
  }
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  template <typename F>
  void split(const std::string& text, F&& emit) {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t offset = 0;
    while (offset < text.size()) {
      const int rc = pcre2_match(code_, subject, text.size(), offset, 0, match_, nullptr);
      if (rc < 0) {
        RIL_CHECK(rc == PCRE2_ERROR_NOMATCH, "tokenizer: PCRE2 match failed with code ", rc);
        emit(text.substr(offset));  // the pattern left a tail unmatched: keep it as one piece
        return;
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match_);
      if (ov[0] > offset) emit(text.substr(offset, ov[0] - offset));
      if (ov[1] == ov[0]) {  // empty match: step over one UTF-8 character
        size_t next = ov[0] + 1;
        while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
        emit(text.substr(ov[0], next - ov[0]));
        offset = next;
      } else {
        emit(text.substr(ov[0], ov[1] - ov[0]));
        offset = ov[1];
      }
    }
  }

 private:
  pcre2_code* code_ = nullptr;
  pcre2_match_data* match_ = nullptr;
};

struct PairHash {
  size_t operator()(const std::pair<int32_t, int32_t>& p) const {
    return std::hash<uint64_t>()((static_cast<uint64_t>(static_cast<uint32_t>(p.first)) << 32) |
                                 static_cast<uint32_t>(p.second));
  }
};

}  // namespace

text::BpeTokenizerSpec train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options) {
  options.validate();
  // 1. Pre-token frequencies (text with invalid UTF-8 repaired, as encode() with kReplace does).
  std::map<std::string, int64_t> word_counts;  // ordered: deterministic iteration
  PreTokenizer pre(options.pre_tokenizer_pattern);
  for (const std::string& raw : texts) {
    const std::string text = text::find_invalid_utf8(raw) ? text::replace_invalid_utf8(raw) : raw;
    pre.split(text, [&](const std::string& piece) { ++word_counts[piece]; });
  }

  // 2. Byte tokens: id b is byte b.
  text::BpeTokenizerSpec spec;
  spec.pre_tokenizer_pattern = options.pre_tokenizer_pattern;
  for (int b = 0; b < 256; ++b) spec.vocab.push_back(text::byte_to_unicode(static_cast<uint8_t>(b)));
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> counts;
  for (const auto& [word, count] : word_counts) {
    std::vector<int32_t> symbols;
    for (unsigned char c : word) symbols.push_back(c);
    words.push_back(std::move(symbols));
    counts.push_back(count);
  }

  // 3. Merges: the most frequent adjacent pair, repeatedly. Recounting every round is
  // O(merges x symbols of distinct words); distinct words are few in these datasets.
  const int budget = options.vocab_size - 256 - static_cast<int>(options.special_tokens.size());
  std::set<std::string> seen(spec.vocab.begin(), spec.vocab.end());
  for (int round = 0; round < budget; ++round) {
    std::unordered_map<std::pair<int32_t, int32_t>, int64_t, PairHash> pairs;
    for (size_t w = 0; w < words.size(); ++w) {
      const auto& s = words[w];
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += counts[w];
    }
    const std::pair<int32_t, int32_t>* best = nullptr;
    int64_t best_count = 0;
    for (const auto& [pair, count] : pairs) {
      if (count < options.min_frequency) continue;
      const bool better = count > best_count ||
                          (count == best_count && std::make_pair(spec.vocab[pair.first], spec.vocab[pair.second]) <
                                                      std::make_pair(spec.vocab[best->first], spec.vocab[best->second]));
      if (better) {
        best = &pair;
        best_count = count;
      }
    }
    if (best == nullptr) {
      log_info("data", "tokenizer: no pair occurs ", options.min_frequency, "+ times after ", round,
               " merges; vocabulary stops at ", spec.vocab.size() + options.special_tokens.size(), " of ",
               options.vocab_size);
      break;
    }
    const std::pair<int32_t, int32_t> merge = *best;
    std::string merged = spec.vocab[merge.first] + spec.vocab[merge.second];
    // Two different pairs can spell the same string ("a"+"bc" vs "ab"+"c"); the token exists
    // once and the second merge still maps to it.
    int32_t id;
    auto existing = std::find(spec.vocab.begin(), spec.vocab.end(), merged);
    if (seen.count(merged)) {
      id = static_cast<int32_t>(existing - spec.vocab.begin());
    } else {
      id = static_cast<int32_t>(spec.vocab.size());
      spec.vocab.push_back(merged);
      seen.insert(merged);
    }
    spec.merges.emplace_back(spec.vocab[merge.first], spec.vocab[merge.second]);
    for (auto& s : words) {
      std::vector<int32_t> out;
      out.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == merge.first && s[i + 1] == merge.second) {
          out.push_back(id);
          ++i;
        } else {
          out.push_back(s[i]);
        }
      }
      s.swap(out);
    }
  }

  // 4. Special tokens after the learnt vocabulary.
  for (const std::string& token : options.special_tokens) {
    text::AddedToken added;
    added.content = token;
    added.id = static_cast<int32_t>(spec.vocab.size() + spec.added_tokens.size());
    added.special = true;
    spec.added_tokens.push_back(added);
  }
  return spec;
}

std::vector<std::string> dataset_texts(const Dataset& dataset, const std::vector<Split>& splits,
                                       const std::vector<std::string>& styles) {
  const std::vector<std::string>& known = dataset.rationale_styles();
  for (const std::string& style : styles) {
    RIL_CHECK(dataset.has_rationale_style(style), "the dataset has no rationale style '", style, "' (it has ",
              join_names(known), ")");
  }
  std::vector<std::string> texts;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    if (!splits.empty() && std::find(splits.begin(), splits.end(), dataset.split(i)) == splits.end()) continue;
    texts.push_back(dataset.question(i));
    texts.push_back(dataset.answer(i));
  }
  // Rationales come from the file's text groups (not loaded into Example one by one).
  for (const std::string& style : styles.empty() ? known : styles) {
    const std::vector<std::string> all = dataset.file().read_text("rationale/" + style);
    for (size_t i = 0; i < all.size(); ++i) {
      if (!splits.empty() &&
          std::find(splits.begin(), splits.end(), dataset.split(static_cast<int64_t>(i))) == splits.end()) {
        continue;
      }
      texts.push_back(all[i]);
    }
  }
  return texts;
}

}  // namespace ril::data
