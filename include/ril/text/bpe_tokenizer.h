// Byte-level BPE tokenizer (GPT-2 / Qwen2 family), read from a Hugging Face `tokenizer.json`
// or from GPT-2 `vocab.json` + `merges.txt`, or built in memory (e.g. by a trainer) and written
// back as a `tokenizer.json` that HF `tokenizers` can load.
//
// Pipeline of encode(): added tokens are matched first on the raw text (leftmost, longest
// wins); every stretch between them is normalized (none or NFC), split into pre-tokens by the
// pre-tokenizer regex (PCRE2, UTF + UCP), each pre-token's bytes are mapped to GPT-2's
// printable byte alphabet and merged by BPE rank. Results are cached per pre-token.
//
// Invalid UTF-8 (policy): encode() never crashes on it. By default (InvalidUtf8::kError) it
// throws ril::Error "invalid UTF-8 at byte offset N ..."; with InvalidUtf8::kReplace each
// maximal invalid subsequence (WHATWG / Unicode "substitution of maximal subparts") becomes
// U+FFFD before tokenization, so decode(encode(x)) then differs from x exactly there.
// decode() returns raw bytes: ids that split a multi-byte character (e.g. a generation cut
// short) give invalid UTF-8, which callers may pass back through encode() with kReplace.
//
// Round trip: decode(encode(x)) == x for every valid UTF-8 x when the normalizer is none and no
// added token has lstrip/rstrip; with NFC it holds for text already in NFC (NFC is lossy).
//
// Checked against HF `tokenizers` 0.22 (tests/unit/text/hf_reference_test.cpp). Known
// differences, none met by real GPT-2/Qwen2 files: HF renumbers added tokens whose ids leave a
// gap after the vocabulary (we keep the file's ids); HF byte-decodes special added tokens, which
// garbles non-ASCII ones (we emit contents verbatim); added tokens with normalized=true are
// matched on the raw text here, after normalization in HF.
//
// Thread safety: a BpeTokenizer is immutable after construction except for its pre-token
// cache, which is guarded by a mutex; encode()/decode() may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ril/text/unicode.h"

namespace ril::text {

// GPT-2's pre-tokenizer regex (also HF ByteLevel's with use_regex=true).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Qwen2 / Qwen2.5 (and Qwen2-VL) pre-tokenizer regex, from their tokenizer.json.
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum class InvalidUtf8 {
  kError,    // throw ril::Error naming the byte offset of the first bad sequence
  kReplace,  // replace each maximal invalid subsequence by U+FFFD
};

enum class Normalizer {
  kNone,
  kNfc,  // Unicode NFC (canonical composition), as Qwen2's tokenizer.json asks
};

// A token matched verbatim in the text before pre-tokenization (HF "added_tokens").
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = true;  // special: skipped by decode(skip_special) and by allow_special=false
  bool lstrip = false;  // also swallow whitespace just before the match
  bool rstrip = false;  // also swallow whitespace just after the match
};

// Everything a tokenizer is made of; what a trainer produces and from_spec() consumes.
struct BpeTokenizerSpec {
  // Token strings in GPT-2's byte alphabet (bytes_to_unicode), indexed by id; every one of the
  // 256 single-byte tokens must be present so that any text can be encoded.
  std::vector<std::string> vocab;
  // Ordered merges, best (rank 0) first; both halves and their concatenation must be in vocab.
  std::vector<std::pair<std::string, std::string>> merges;
  // Ids may extend vocab (id == vocab.size(), ...) or name an existing vocab entry.
  std::vector<AddedToken> added_tokens;
  // PCRE2 regex (UTF, UCP); text between matches becomes pre-tokens too. A ByteLevel
  // pre-tokenizer without regex or Split reads as R"([\s\S]+)" (each stretch one pre-token).
  std::string pre_tokenizer_pattern = kGpt2Pattern;
  Normalizer normalizer = Normalizer::kNone;
  // HF ByteLevel option: prepend ' ' to each stretch between added tokens that lacks one. Only
  // with kGpt2Pattern or no regex (after a Split, HF would prepend to every piece).
  bool add_prefix_space = false;
  bool ignore_merges = false;     // HF BPE option (Llama 3): a pre-token found whole in vocab
                                  // is emitted as is
};

struct EncodeOptions {
  // Recognise special added tokens ("<|im_end|>") written in the text. Off: they are
  // tokenized as plain text, as for untrusted content. Non-special added tokens always match.
  bool allow_special = true;
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
};

// Ids of well-known special tokens, when the vocabulary has them (see special_ids()).
struct SpecialTokenIds {
  std::optional<int32_t> eos;       // <|im_end|> if present (chat models), else <|endoftext|>,
                                    // <|end_of_text|>, </s>
  std::optional<int32_t> pad;       // <|endoftext|> (Qwen's pad), else <pad>, [PAD]
  std::optional<int32_t> bos;       // <|begin_of_text|>, <s>
  std::optional<int32_t> endoftext; // <|endoftext|>
  std::optional<int32_t> im_start;  // <|im_start|>
  std::optional<int32_t> im_end;    // <|im_end|>
};

class BpeTokenizer {
 public:
  // HF tokenizer.json: model.type "BPE", pre_tokenizer ByteLevel or Sequence[Split(Regex,
  // Isolated), ByteLevel(use_regex=false)], normalizer null or NFC, decoder ByteLevel.
  // Anything else throws ril::Error naming the file and the JSON key.
  static BpeTokenizer from_tokenizer_json(const std::string& path);
  // GPT-2 vocab.json (token -> id) + merges.txt ("#version" line, then "a b" per line).
  // <|endoftext|> (if in the vocab) becomes a special added token.
  static BpeTokenizer from_gpt2_files(const std::string& vocab_path,
                                      const std::string& merges_path);
  // In memory; `origin` names the source in error messages.
  static BpeTokenizer from_spec(BpeTokenizerSpec spec, const std::string& origin = "<memory>");

  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Concatenated bytes of the tokens; added tokens give their content verbatim.
  // Throws ril::Error on an id outside [0, vocab_size()).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // Token strings are in the byte alphabet ("Ġhello"); added tokens are their content.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string& id_to_token(int32_t id) const;  // throws on a bad id
  // The raw bytes a token stands for (what decode() emits for it).
  const std::string& token_bytes(int32_t id) const;
  bool is_special(int32_t id) const;

  // One past the largest id (vocab plus added tokens).
  int32_t vocab_size() const;
  const SpecialTokenIds& special_ids() const;
  const std::vector<AddedToken>& added_tokens() const;
  const std::string& pre_tokenizer_pattern() const;

  // Pieces of encode(text) as readable strings (for test diagnostics and logs).
  std::vector<std::string> pieces(const std::vector<int32_t>& ids) const;

  // Writes an HF tokenizer.json (model BPE, ByteLevel pre-tokenizer/decoder) that
  // from_tokenizer_json() and HF `tokenizers` read back to the same ids.
  void save_tokenizer_json(const std::string& path) const;
  // The spec this tokenizer was built from (for saving in another format or retraining).
  BpeTokenizerSpec spec() const;

 private:
  struct Impl;
  explicit BpeTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// GPT-2's reversible byte -> printable code point map (bytes_to_unicode), as UTF-8 strings.
const std::string& byte_to_unicode(uint8_t byte);

}  // namespace ril::text
