#include "ril/text/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <mutex>
#include <queue>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <pcre2.h>

#include "ril/common/error.h"
#include "unicode_nfc.h"
#include "utf8.h"

namespace ril::text {
namespace {

using Json = nlohmann::json;

// GPT-2's bytes_to_unicode(): printable bytes map to themselves, the other 68 to U+0100.. in
// byte order, so every token is a printable string and the map is reversible.
struct ByteAlphabet {
  std::array<std::string, 256> byte_to_str;
  std::unordered_map<char32_t, uint8_t> cp_to_byte;
  ByteAlphabet() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const char32_t cp = printable ? char32_t(b) : char32_t(256 + n++);
      detail::utf8_append(byte_to_str[b], cp);
      cp_to_byte[cp] = static_cast<uint8_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet instance;
  return instance;
}

std::string to_byte_alphabet(std::string_view raw) {
  const ByteAlphabet& a = alphabet();
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) out += a.byte_to_str[static_cast<uint8_t>(c)];
  return out;
}

// Inverse of to_byte_alphabet; a code point outside the alphabet keeps its UTF-8 bytes (as HF's
// ByteLevel decoder does).
std::string from_byte_alphabet(std::string_view token) {
  const ByteAlphabet& a = alphabet();
  std::string out;
  size_t pos = 0;
  while (pos < token.size()) {
    size_t bad = 0;
    const size_t len = detail::utf8_sequence_length(token, pos, &bad);
    if (len == 0) {  // not UTF-8: keep the bytes
      out.append(token.data() + pos, bad);
      pos += bad;
      continue;
    }
    const auto it = a.cp_to_byte.find(detail::utf8_decode(token, pos, len));
    if (it != a.cp_to_byte.end()) {
      out += static_cast<char>(it->second);
    } else {
      out.append(token.data() + pos, len);
    }
    pos += len;
  }
  return out;
}

// The "pattern" of a ByteLevel pre-tokenizer without regex: each stretch between added tokens
// is one pre-token. Written so that Oniguruma (HF) reads it the same way.
constexpr const char* kWholeText = R"([\s\S]+)";

// Ids above this are taken for a corrupt file rather than allocated (largest real vocabularies
// are ~260k).
constexpr int64_t kMaxTokenId = 1 << 24;

// Unicode White_Space (Rust's char::is_whitespace, which HF uses for lstrip/rstrip).
bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Bytes of white space that end at text[end] (going back no further than floor).
size_t white_space_before(std::string_view text, size_t floor, size_t end) {
  size_t pos = end;
  while (pos > floor) {
    size_t start = pos - 1;  // back to the lead byte of the previous character
    while (start > floor && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
    const size_t len = detail::utf8_sequence_length(text, start, nullptr);
    if (len != pos - start || !is_white_space(detail::utf8_decode(text, start, len))) break;
    pos = start;
  }
  return end - pos;
}

// Bytes of white space that start at text[begin].
size_t white_space_after(std::string_view text, size_t begin) {
  size_t pos = begin;
  while (pos < text.size()) {
    const size_t len = detail::utf8_sequence_length(text, pos, nullptr);
    if (len == 0 || !is_white_space(detail::utf8_decode(text, pos, len))) break;
    pos += len;
  }
  return pos - begin;
}

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat("cannot open ", what, " '", path, "'"));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw Error(cat("cannot read ", what, " '", path, "'"));
  return buf.str();
}

Json parse_json(const std::string& text, const std::string& path, const char* what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(cat("malformed JSON in ", what, " '", path, "': ", e.what()));
  }
}

struct MergeInfo {
  int32_t rank;
  int32_t id;  // id of the merged token
};

uint64_t pair_key(int32_t a, int32_t b) {
  return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

void pcre2_fail(int code, const std::string& context) {
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(code, msg, sizeof(msg));
  throw Error(cat(context, ": ", reinterpret_cast<const char*>(msg)));
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return alphabet().byte_to_str[byte]; }

struct BpeTokenizer::Impl {
  std::string origin;
  BpeTokenizerSpec spec;                 // as built, for spec() and save_tokenizer_json()
  std::vector<std::string> tokens;       // id -> token string ("" for holes)
  std::vector<std::string> bytes;        // id -> raw bytes decode() emits
  std::vector<uint8_t> special;          // id -> 1 for special added tokens
  std::unordered_map<std::string, int32_t> added_ids;  // added token contents
  std::unordered_map<std::string, int32_t> vocab_ids;  // byte-alphabet vocab only (BPE)
  std::unordered_map<uint64_t, MergeInfo> merges;
  std::array<int32_t, 256> byte_ids{};
  SpecialTokenIds special_ids;

  // Added tokens, longest first so the first hit at a position is the longest.
  std::vector<AddedToken> added_by_length;
  std::array<bool, 256> added_first_byte{};

  pcre2_code* regex = nullptr;
  bool jit = false;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;
  static constexpr size_t kMaxCacheEntries = 1 << 18;  // ~30 MB at most, per tokenizer
  static constexpr size_t kMaxCachedWordBytes = 256;   // long words are rare: not worth it

  ~Impl() {
    if (regex) pcre2_code_free(regex);
  }

  // Added tokens first: their content wins over a vocab entry with the same string.
  std::optional<int32_t> find_token(const std::string& token) const {
    if (const auto it = added_ids.find(token); it != added_ids.end()) return it->second;
    if (const auto it = vocab_ids.find(token); it != vocab_ids.end()) return it->second;
    return std::nullopt;
  }

  void build();
  void compile_regex();
  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void bpe_small(std::vector<int32_t>& symbols) const;
  void bpe_large(std::vector<int32_t>& symbols) const;
  void encode_segment(std::string_view text, std::vector<int32_t>& out) const;
  void encode_pre_token(std::string_view word, std::vector<int32_t>& out) const;
};

void BpeTokenizer::Impl::build() {
  BpeTokenizerSpec& s = spec;
  if (static_cast<int64_t>(s.vocab.size()) > kMaxTokenId) {
    throw Error(cat(origin, ": key 'model.vocab': ", s.vocab.size(), " entries, more than ",
                    kMaxTokenId));
  }
  int32_t size = static_cast<int32_t>(s.vocab.size());
  std::unordered_map<int32_t, const AddedToken*> by_id;
  for (const AddedToken& t : s.added_tokens) {
    if (t.id < 0 || t.id >= kMaxTokenId || t.content.empty()) {
      throw Error(cat(origin, ": key 'added_tokens': token \"", t.content, "\" with id ", t.id,
                      " (ids must be in [0, ", kMaxTokenId, ") and contents non-empty)"));
    }
    const auto [it, fresh] = by_id.emplace(t.id, &t);
    if (!fresh) {
      throw Error(cat(origin, ": key 'added_tokens': id ", t.id, " used by \"",
                      it->second->content, "\" and \"", t.content, "\""));
    }
    size = std::max(size, t.id + 1);
  }
  vocab_ids.reserve(s.vocab.size());
  tokens.assign(size, std::string());
  bytes.assign(size, std::string());
  special.assign(size, 0);
  for (size_t id = 0; id < s.vocab.size(); ++id) {
    const std::string& tok = s.vocab[id];
    if (tok.empty()) continue;  // a hole in the id range
    const auto [it, fresh] = vocab_ids.emplace(tok, static_cast<int32_t>(id));
    if (!fresh) {
      throw Error(cat(origin, ": key 'model.vocab': token \"", tok, "\" has two ids, ",
                      it->second, " and ", id));
    }
    tokens[id] = tok;
    bytes[id] = from_byte_alphabet(tok);
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab_ids.find(alphabet().byte_to_str[b]);
    if (it == vocab_ids.end()) {
      throw Error(cat(origin, ": key 'model.vocab': no token for byte 0x", std::hex, b,
                      " (\"", alphabet().byte_to_str[b],
                      "\"); a byte-level vocabulary needs all 256 byte tokens"));
    }
    byte_ids[b] = it->second;
  }
  merges.reserve(s.merges.size() * 2);
  for (size_t rank = 0; rank < s.merges.size(); ++rank) {
    const auto& [a, b] = s.merges[rank];
    const auto ia = vocab_ids.find(a), ib = vocab_ids.find(b), iab = vocab_ids.find(a + b);
    const char* missing = ia == vocab_ids.end()    ? "first token"
                          : ib == vocab_ids.end()  ? "second token"
                          : iab == vocab_ids.end() ? "merged token"
                                                   : nullptr;
    if (missing) {
      throw Error(cat(origin, ": key 'model.merges' entry ", rank, " (\"", a, "\" \"", b,
                      "\"): ", missing, " not in model.vocab"));
    }
    // A repeated merge keeps its last rank, as GPT-2's dict(zip(...)) and HF do.
    merges[pair_key(ia->second, ib->second)] =
        MergeInfo{static_cast<int32_t>(rank), iab->second};
  }
  for (const AddedToken& t : s.added_tokens) {
    tokens[t.id] = t.content;
    bytes[t.id] = t.content;
    special[t.id] = t.special ? 1 : 0;
    added_ids[t.content] = t.id;
    added_by_length.push_back(t);
    added_first_byte[static_cast<uint8_t>(t.content[0])] = true;
  }
  std::stable_sort(added_by_length.begin(), added_by_length.end(),
                   [](const AddedToken& x, const AddedToken& y) {
                     return x.content.size() > y.content.size();
                   });

  const auto find = [&](std::initializer_list<const char*> names) -> std::optional<int32_t> {
    for (const char* name : names) {
      if (const auto id = find_token(name)) return id;
    }
    return std::nullopt;
  };
  special_ids.endoftext = find({"<|endoftext|>"});
  special_ids.im_start = find({"<|im_start|>"});
  special_ids.im_end = find({"<|im_end|>"});
  special_ids.eos = find({"<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "</s>"});
  special_ids.pad = find({"<|endoftext|>", "<pad>", "[PAD]", "<|pad|>"});
  special_ids.bos = find({"<|begin_of_text|>", "<s>"});

  // add_prefix_space means one space per stretch of text, which is what HF does before the
  // GPT-2 regex or without a regex; after another Split HF prepends to every piece.
  if (s.add_prefix_space && s.pre_tokenizer_pattern != kGpt2Pattern &&
      s.pre_tokenizer_pattern != kWholeText) {
    throw Error(cat(origin, ": key 'pre_tokenizer': add_prefix_space is only supported with "
                            "the GPT-2 pattern or no regex"));
  }
  compile_regex();
}

void BpeTokenizer::Impl::compile_regex() {
  int code = 0;
  PCRE2_SIZE offset = 0;
  const std::string& pattern = spec.pre_tokenizer_pattern;
  regex = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                        PCRE2_UTF | PCRE2_UCP, &code, &offset, nullptr);
  if (!regex) {
    pcre2_fail(code, cat(origin, ": pre-tokenizer regex does not compile at offset ", offset,
                         " (pattern ", pattern, ")"));
  }
  // JIT is 3-10x faster; without it (unsupported CPU, SELinux) the interpreter still works.
  jit = pcre2_jit_compile(regex, PCRE2_JIT_COMPLETE) == 0;
}

// BPE of one word of at most a few dozen symbols: repeatedly merge the leftmost pair of lowest
// rank. O(n^2) compares but only O(n) hash lookups; this is also the oracle for bpe_large().
void BpeTokenizer::Impl::bpe_small(std::vector<int32_t>& symbols) const {
  constexpr int32_t kNone = INT32_MAX;
  const auto lookup = [&](size_t i) -> std::pair<int32_t, int32_t> {
    const auto it = merges.find(pair_key(symbols[i], symbols[i + 1]));
    return it == merges.end() ? std::make_pair(kNone, -1)
                              : std::make_pair(it->second.rank, it->second.id);
  };
  std::vector<std::pair<int32_t, int32_t>> ranks(symbols.size() - 1);
  for (size_t i = 0; i + 1 < symbols.size(); ++i) ranks[i] = lookup(i);
  while (symbols.size() > 1) {
    size_t best = 0;
    for (size_t i = 1; i < ranks.size(); ++i) {
      if (ranks[i].first < ranks[best].first) best = i;
    }
    if (ranks[best].first == kNone) break;
    symbols[best] = ranks[best].second;
    symbols.erase(symbols.begin() + best + 1);
    ranks.erase(ranks.begin() + best);
    if (best > 0) ranks[best - 1] = lookup(best - 1);
    if (best < ranks.size()) ranks[best] = lookup(best);
  }
}

// The same result in O(n log n) for long words (runs of spaces, base64, minified code): a heap
// of candidate merges ordered by (rank, position) over a linked list of symbols. Entries made
// stale by an earlier merge are recognised by comparing the ids they were made for.
void BpeTokenizer::Impl::bpe_large(std::vector<int32_t>& symbols) const {
  const int n = static_cast<int>(symbols.size());
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Cand {
    int32_t rank;
    int pos;
    int32_t left, right, merged;
    bool operator>(const Cand& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  const auto push = [&](int i) {
    if (i < 0 || next[i] < 0) return;
    const auto it = merges.find(pair_key(symbols[i], symbols[next[i]]));
    if (it != merges.end()) {
      heap.push(Cand{it->second.rank, i, symbols[i], symbols[next[i]], it->second.id});
    }
  };
  std::vector<uint8_t> alive(n, 1);
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int j = next[c.pos];
    if (!alive[c.pos] || j < 0 || symbols[c.pos] != c.left || symbols[j] != c.right) continue;
    symbols[c.pos] = c.merged;
    alive[j] = 0;
    next[c.pos] = next[j];
    if (next[j] >= 0) prev[next[j]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  size_t out = 0;
  for (int i = 0; i >= 0 && i < n; i = next[i]) symbols[out++] = symbols[i];
  symbols.resize(out);
}

void BpeTokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  if (spec.ignore_merges) {
    const auto it = vocab_ids.find(to_byte_alphabet(word));
    if (it != vocab_ids.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> symbols(word.size());
  for (size_t i = 0; i < word.size(); ++i) symbols[i] = byte_ids[static_cast<uint8_t>(word[i])];
  if (symbols.size() > 1) {
    if (symbols.size() <= 48) {
      bpe_small(symbols);
    } else {
      bpe_large(symbols);
    }
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void BpeTokenizer::Impl::encode_pre_token(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1) {  // most punctuation and spaces: no merge possible
    out.push_back(byte_ids[static_cast<uint8_t>(word[0])]);
    return;
  }
  if (word.size() > kMaxCachedWordBytes) {
    bpe_word(word, out);
    return;
  }
  std::string key(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    const auto it = cache.find(key);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  bpe_word(word, out);
  std::vector<int32_t> result(out.begin() + start, out.end());
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (cache.size() >= kMaxCacheEntries) cache.clear();
  cache.emplace(std::move(key), std::move(result));
}

// Pre-tokenizes one stretch of valid UTF-8 without added tokens and BPE-encodes each piece.
// Text the regex does not match becomes a piece of its own (HF Split behaviour "Isolated").
void BpeTokenizer::Impl::encode_segment(std::string_view text, std::vector<int32_t>& out) const {
  std::string owned;
  if (spec.normalizer == Normalizer::kNfc) {
    owned = detail::to_nfc(text);
    text = owned;
  }
  if (spec.add_prefix_space && !text.empty() && text[0] != ' ') {
    owned = " " + std::string(text);
    text = owned;
  }
  if (text.empty()) return;
  const std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(
      pcre2_match_data_create_from_pattern(regex, nullptr), &pcre2_match_data_free);
  RIL_CHECK(match, "out of memory for PCRE2 match data");
  pcre2_match_data* md = match.get();
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;     // start of text not yet emitted
  size_t search = 0;  // where the next match attempt starts
  while (search < text.size()) {
    // The input was validated once up front; PCRE2 would otherwise re-check the whole subject
    // on every call, which is quadratic.
    const int rc = jit ? pcre2_jit_match(regex, subject, text.size(), search, 0, md, nullptr)
                       : pcre2_match(regex, subject, text.size(), search, PCRE2_NO_UTF_CHECK,
                                     md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) pcre2_fail(rc, cat(origin, ": pre-tokenizer regex failed at byte ", search));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t begin = ov[0], end = ov[1];
    if (end == begin) {
      // Empty match: emit nothing, step over one character; it joins the next gap.
      size_t len = detail::utf8_sequence_length(text, begin, nullptr);
      search = begin + (len == 0 ? 1 : len);
      continue;
    }
    if (begin > pos) encode_pre_token(text.substr(pos, begin - pos), out);
    encode_pre_token(text.substr(begin, end - begin), out);
    pos = search = end;
  }
  if (pos < text.size()) encode_pre_token(text.substr(pos), out);
}

BpeTokenizer::BpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

BpeTokenizer BpeTokenizer::from_spec(BpeTokenizerSpec spec, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  impl->spec = std::move(spec);
  impl->build();
  return BpeTokenizer(std::move(impl));
}

namespace {

// Reads a pre_tokenizer object into spec (pattern, add_prefix_space); `key` is its JSON path.
void read_pre_tokenizer(const Json& pt, const std::string& where, const std::string& key,
                        BpeTokenizerSpec& spec) {
  const auto fail = [&](const std::string& k, const std::string& why) {
    throw Error(cat(where, ": key '", k, "': ", why));
  };
  if (pt.is_null()) fail(key, "null pre_tokenizer is not supported (byte-level BPE needs ByteLevel)");
  if (!pt.is_object() || !pt.contains("type") || !pt["type"].is_string()) {
    fail(key, "expected an object with a string \"type\"");
  }
  const std::string type = pt["type"];
  if (type == "ByteLevel") {
    spec.add_prefix_space = pt.value("add_prefix_space", false);
    spec.pre_tokenizer_pattern = pt.value("use_regex", true) ? kGpt2Pattern : kWholeText;
    return;
  }
  if (type != "Sequence") {
    fail(key + ".type", cat("unsupported pre_tokenizer type \"", type,
                            "\" (supported: ByteLevel, Sequence of Split + ByteLevel)"));
  }
  if (!pt.contains("pretokenizers") || !pt["pretokenizers"].is_array()) {
    fail(key + ".pretokenizers", "missing or not an array");
  }
  const Json& list = pt["pretokenizers"];
  bool have_split = false, have_byte_level = false, byte_level_regex = false;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string k = cat(key, ".pretokenizers[", i, "]");
    const Json& p = list[i];
    const std::string t = p.is_object() ? p.value("type", std::string()) : std::string();
    if (t == "Split") {
      if (have_split || have_byte_level) fail(k, "only one Split, before ByteLevel, is supported");
      if (p.value("behavior", std::string("Isolated")) != "Isolated") {
        fail(k + ".behavior", cat("unsupported Split behavior \"", p.value("behavior", ""),
                                  "\" (supported: Isolated)"));
      }
      if (p.value("invert", false)) fail(k + ".invert", "inverted Split is not supported");
      if (!p.contains("pattern") || !p["pattern"].is_object()) fail(k + ".pattern", "missing");
      const Json& pat = p["pattern"];
      if (pat.contains("Regex") && pat["Regex"].is_string()) {
        spec.pre_tokenizer_pattern = pat["Regex"];
      } else if (pat.contains("String") && pat["String"].is_string()) {
        // A literal: quote it for PCRE2.
        spec.pre_tokenizer_pattern = cat("\\Q", pat["String"].get<std::string>(), "\\E");
      } else {
        fail(k + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
      }
      have_split = true;
    } else if (t == "ByteLevel") {
      if (have_byte_level) fail(k, "two ByteLevel pre-tokenizers");
      spec.add_prefix_space = p.value("add_prefix_space", false);
      // After a Split, HF would prepend the space to every piece, not once per text.
      if (spec.add_prefix_space && have_split) {
        fail(k + ".add_prefix_space", "true after a Split is not supported");
      }
      byte_level_regex = p.value("use_regex", true);
      if (byte_level_regex) {
        if (have_split) fail(k + ".use_regex", "Split followed by ByteLevel with use_regex=true "
                                               "(two regex splits) is not supported");
        spec.pre_tokenizer_pattern = kGpt2Pattern;
      }
      have_byte_level = true;
    } else {
      fail(k + ".type", cat("unsupported pre_tokenizer type \"", t,
                            "\" in Sequence (supported: Split, ByteLevel)"));
    }
  }
  if (!have_byte_level) fail(key, "Sequence without a ByteLevel pre-tokenizer is not byte-level");
  if (!have_split && !byte_level_regex) spec.pre_tokenizer_pattern = kWholeText;
}

}  // namespace

BpeTokenizer BpeTokenizer::from_tokenizer_json(const std::string& path) {
  const std::string where = cat("tokenizer.json '", path, "'");
  const Json root = parse_json(read_file(path, "tokenizer.json"), path, "tokenizer.json");
  const auto fail = [&](const std::string& key, const std::string& why) {
    throw Error(cat(where, ": key '", key, "': ", why));
  };
  if (!root.is_object()) fail("<root>", "expected a JSON object");
  if (!root.contains("model") || !root["model"].is_object()) fail("model", "missing or not an object");
  const Json& model = root["model"];
  // Old files (tokenizers < 0.10) have no model.type; they are BPE when they have merges.
  const std::string type = model.value("type", model.contains("merges") ? "BPE" : "");
  if (type != "BPE") {
    fail("model.type", cat("unsupported model type \"", type, "\" (only BPE is supported)"));
  }
  BpeTokenizerSpec spec;

  // normalizer: null, NFC, or a Sequence of those.
  if (root.contains("normalizer") && !root["normalizer"].is_null()) {
    const Json& n = root["normalizer"];
    std::vector<std::pair<std::string, const Json*>> items;
    const std::string ntype = n.is_object() ? n.value("type", std::string()) : std::string();
    if (ntype == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
      for (size_t i = 0; i < n["normalizers"].size(); ++i) {
        items.emplace_back(cat("normalizer.normalizers[", i, "].type"), &n["normalizers"][i]);
      }
    } else {
      items.emplace_back("normalizer.type", &n);
    }
    for (const auto& [key, item] : items) {
      const std::string t = item->is_object() ? item->value("type", std::string()) : std::string();
      if (t == "NFC") {
        spec.normalizer = Normalizer::kNfc;
      } else {
        fail(key, cat("unsupported normalizer \"", t, "\" (supported: null, NFC)"));
      }
    }
  }

  if (!root.contains("pre_tokenizer")) fail("pre_tokenizer", "missing");
  read_pre_tokenizer(root["pre_tokenizer"], where, "pre_tokenizer", spec);

  if (root.contains("decoder") && !root["decoder"].is_null()) {
    const Json& d = root["decoder"];
    const std::string t = d.is_object() ? d.value("type", std::string()) : std::string();
    if (t != "ByteLevel") {
      fail("decoder.type", cat("unsupported decoder \"", t, "\" (supported: ByteLevel)"));
    }
  }

  if (model.contains("dropout") && !model["dropout"].is_null() &&
      model["dropout"].get<double>() != 0.0) {
    fail("model.dropout", "BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && model[key] != "") {
      fail(cat("model.", key), "non-empty value is not supported for byte-level BPE");
    }
  }
  if (model.value("byte_fallback", false)) fail("model.byte_fallback", "not supported");
  spec.ignore_merges = model.value("ignore_merges", false);

  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    fail("model.vocab", "missing or not an object");
  }
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxTokenId) {
      fail("model.vocab", cat("token \"", token, "\" has no valid id: ", id.dump()));
    }
    const size_t i = id.get<size_t>();
    if (spec.vocab.size() <= i) spec.vocab.resize(i + 1);
    if (!spec.vocab[i].empty()) {
      fail("model.vocab", cat("id ", i, " used by \"", spec.vocab[i], "\" and \"", token, "\""));
    }
    spec.vocab[i] = token;
  }
  if (!model.contains("merges") || !model["merges"].is_array()) {
    fail("model.merges", "missing or not an array");
  }
  const Json& merges = model["merges"];
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& m = merges[i];
    if (m.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string s = m;
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        fail(cat("model.merges[", i, "]"), cat("expected \"a b\", got \"", s, "\""));
      }
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(cat("model.merges[", i, "]"), cat("expected \"a b\" or [\"a\", \"b\"], got ", m.dump()));
    }
  }

  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const Json& added = root["added_tokens"];
    if (!added.is_array()) fail("added_tokens", "not an array");
    for (size_t i = 0; i < added.size(); ++i) {
      const Json& a = added[i];
      const std::string k = cat("added_tokens[", i, "]");
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string()) {
        fail(k, "expected an object with integer \"id\" and string \"content\"");
      }
      if (a.value("single_word", false)) fail(k + ".single_word", "true is not supported");
      if (a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() >= kMaxTokenId) {
        fail(k + ".id", cat("out of range: ", a["id"].dump()));
      }
      AddedToken t;
      t.id = a["id"].get<int32_t>();
      t.content = a["content"].get<std::string>();
      t.special = a.value("special", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      if (t.content.empty()) fail(k + ".content", "empty");
      spec.added_tokens.push_back(std::move(t));
    }
  }
  return from_spec(std::move(spec), where);  // build() errors name `where` and the key
}

BpeTokenizer BpeTokenizer::from_gpt2_files(const std::string& vocab_path,
                                           const std::string& merges_path) {
  const Json vocab = parse_json(read_file(vocab_path, "vocab.json"), vocab_path, "vocab.json");
  if (!vocab.is_object()) {
    throw Error(cat("vocab.json '", vocab_path, "': expected an object of token -> id"));
  }
  BpeTokenizerSpec spec;
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxTokenId) {
      throw Error(cat("vocab.json '", vocab_path, "': key \"", token, "\": invalid id ", id.dump()));
    }
    const size_t i = id.get<size_t>();
    if (spec.vocab.size() <= i) spec.vocab.resize(i + 1);
    if (!spec.vocab[i].empty()) {
      throw Error(cat("vocab.json '", vocab_path, "': id ", i, " used by \"", spec.vocab[i],
                      "\" and \"", token, "\""));
    }
    spec.vocab[i] = token;
  }
  const std::string text = read_file(merges_path, "merges.txt");
  std::istringstream lines(text);
  std::string line;
  size_t line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() ||
        line.find(' ', sp + 1) != std::string::npos) {
      throw Error(cat("merges.txt '", merges_path, "': line ", line_no,
                      ": expected \"a b\", got \"", line, "\""));
    }
    spec.merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  const auto eot = std::find(spec.vocab.begin(), spec.vocab.end(), "<|endoftext|>");
  if (eot != spec.vocab.end()) {
    spec.added_tokens.push_back(
        AddedToken{"<|endoftext|>", static_cast<int32_t>(eot - spec.vocab.begin()), true});
  }
  return from_spec(std::move(spec), cat("vocab.json '", vocab_path, "' + merges.txt '",
                                        merges_path, "'"));
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text,
                                          const EncodeOptions& options) const {
  const Impl& m = *impl_;
  std::string replaced;
  if (const auto bad = find_invalid_utf8(text)) {
    if (options.invalid_utf8 == InvalidUtf8::kError) {
      const size_t n = std::min<size_t>(4, text.size() - *bad);
      std::ostringstream hex;
      for (size_t k = 0; k < n; ++k) {
        hex << (k ? " " : "") << std::hex << int(static_cast<uint8_t>(text[*bad + k]));
      }
      throw Error(cat("invalid UTF-8 at byte offset ", *bad, " of ", text.size(),
                      " (bytes ", hex.str(), "); pass InvalidUtf8::kReplace to substitute U+FFFD"));
    }
    replaced = replace_invalid_utf8(text);
    text = replaced;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  size_t seg_start = 0;
  size_t pos = 0;
  if (!m.added_by_length.empty()) {
    while (pos < text.size()) {
      if (!m.added_first_byte[static_cast<uint8_t>(text[pos])]) {
        ++pos;
        continue;
      }
      const AddedToken* hit = nullptr;
      for (const AddedToken& t : m.added_by_length) {
        if (t.special && !options.allow_special) continue;
        if (text.compare(pos, t.content.size(), t.content) == 0) {
          hit = &t;
          break;
        }
      }
      if (!hit) {
        ++pos;
        continue;
      }
      size_t before_end = pos;
      if (hit->lstrip) {
        before_end -= white_space_before(text, seg_start, before_end);
      }
      m.encode_segment(text.substr(seg_start, before_end - seg_start), out);
      out.push_back(hit->id);
      pos += hit->content.size();
      if (hit->rstrip) {
        pos += white_space_after(text, pos);
      }
      seg_start = pos;
    }
  }
  m.encode_segment(text.substr(seg_start), out);
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  out.reserve(ids.size() * 4);
  for (const int32_t id : ids) {
    if (id < 0 || id >= static_cast<int32_t>(m.tokens.size()) || m.tokens[id].empty()) {
      throw Error(cat(m.origin, ": decode: token id ", id, " is not in the vocabulary (size ",
                      m.tokens.size(), ")"));
    }
    if (skip_special && m.special[id]) continue;
    out += m.bytes[id];
  }
  return out;
}

std::optional<int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
  return impl_->find_token(std::string(token));
}

const std::string& BpeTokenizer::id_to_token(int32_t id) const {
  const Impl& m = *impl_;
  if (id < 0 || id >= static_cast<int32_t>(m.tokens.size()) || m.tokens[id].empty()) {
    throw Error(cat(m.origin, ": token id ", id, " is not in the vocabulary (size ",
                    m.tokens.size(), ")"));
  }
  return m.tokens[id];
}

const std::string& BpeTokenizer::token_bytes(int32_t id) const {
  id_to_token(id);  // range check
  return impl_->bytes[id];
}

bool BpeTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < static_cast<int32_t>(impl_->special.size()) && impl_->special[id];
}

int32_t BpeTokenizer::vocab_size() const { return static_cast<int32_t>(impl_->tokens.size()); }
const SpecialTokenIds& BpeTokenizer::special_ids() const { return impl_->special_ids; }
const std::vector<AddedToken>& BpeTokenizer::added_tokens() const {
  return impl_->spec.added_tokens;
}
const std::string& BpeTokenizer::pre_tokenizer_pattern() const {
  return impl_->spec.pre_tokenizer_pattern;
}
BpeTokenizerSpec BpeTokenizer::spec() const { return impl_->spec; }

std::vector<std::string> BpeTokenizer::pieces(const std::vector<int32_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || impl_->tokens[id].empty()) {
      out.push_back(cat("<bad id ", id, ">"));
    } else {
      out.push_back(impl_->tokens[id]);
    }
  }
  return out;
}

void BpeTokenizer::save_tokenizer_json(const std::string& path) const {
  using OJson = nlohmann::ordered_json;
  const BpeTokenizerSpec& s = impl_->spec;
  OJson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  OJson added = OJson::array();
  for (const AddedToken& t : s.added_tokens) {
    added.push_back(OJson{{"id", t.id},
                          {"content", t.content},
                          {"single_word", false},
                          {"lstrip", t.lstrip},
                          {"rstrip", t.rstrip},
                          {"normalized", false},
                          {"special", t.special}});
  }
  root["added_tokens"] = added;
  root["normalizer"] =
      s.normalizer == Normalizer::kNfc ? OJson{{"type", "NFC"}} : OJson(nullptr);
  if (s.pre_tokenizer_pattern == kGpt2Pattern || s.pre_tokenizer_pattern == kWholeText) {
    root["pre_tokenizer"] = OJson{{"type", "ByteLevel"},
                                  {"add_prefix_space", s.add_prefix_space},
                                  {"trim_offsets", true},
                                  {"use_regex", s.pre_tokenizer_pattern == kGpt2Pattern}};
  } else {
    root["pre_tokenizer"] = OJson{
        {"type", "Sequence"},
        {"pretokenizers",
         OJson::array({OJson{{"type", "Split"},
                             {"pattern", OJson{{"Regex", s.pre_tokenizer_pattern}}},
                             {"behavior", "Isolated"},
                             {"invert", false}},
                       OJson{{"type", "ByteLevel"},
                             {"add_prefix_space", s.add_prefix_space},
                             {"trim_offsets", false},
                             {"use_regex", false}}})}};
  }
  root["post_processor"] = nullptr;
  root["decoder"] = OJson{{"type", "ByteLevel"},
                          {"add_prefix_space", true},
                          {"trim_offsets", true},
                          {"use_regex", true}};
  OJson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;
  model["ignore_merges"] = s.ignore_merges;
  OJson vocab = OJson::object();
  for (size_t id = 0; id < s.vocab.size(); ++id) {
    if (!s.vocab[id].empty()) vocab[s.vocab[id]] = id;
  }
  model["vocab"] = vocab;
  // "a b" strings are read by every tokenizers version; byte-level tokens never hold a space
  // (it is "Ġ"), but a hand-made vocabulary might, and then only the array form is exact.
  bool any_space = false;
  for (const auto& [a, b] : s.merges) {
    any_space = any_space || a.find(' ') != std::string::npos || b.find(' ') != std::string::npos;
  }
  OJson merges = OJson::array();
  for (const auto& [a, b] : s.merges) {
    if (any_space) {
      merges.push_back(OJson::array({a, b}));
    } else {
      merges.push_back(a + " " + b);
    }
  }
  model["merges"] = merges;
  root["model"] = model;

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(cat("cannot write tokenizer.json '", tmp, "'"));
    out << root.dump(2, ' ', /*ensure_ascii=*/false) << "\n";
    if (!out) throw Error(cat("write failed for tokenizer.json '", tmp, "'"));
  }
  // Rename so that a reader never sees half a file.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error(cat("cannot rename '", tmp, "' to tokenizer.json '", path, "'"));
  }
}

}  // namespace ril::text
