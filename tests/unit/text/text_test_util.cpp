#include "text_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <fstream>
#include <random>

namespace ril::text::testing {
namespace {

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

}  // namespace

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

std::string source_dir() {
  const char* root = std::getenv("RIL_SOURCE_DIR");
  if (!root) {
    ADD_FAILURE() << "RIL_SOURCE_DIR is not set (ctest sets it; by hand: RIL_SOURCE_DIR=<repo>)";
    return "";
  }
  return root;
}

TempDir::TempDir(const std::string& tag) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ril_" + tag + "_XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string escape(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run_command(const std::string& cmd, std::string* log) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) {
    if (log) log->append(buf, n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

nlohmann::json run_node_tool(const std::string& tool, const std::vector<std::string>& args,
                             const std::vector<std::string>& strings,
                             const std::string& extra_args) {
  const std::string root = source_dir();
  if (root.empty()) return nullptr;
  const TempDir dir("node_tool");
  const std::string in_path = dir / "in.json", out_path = dir / "out.json";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << nlohmann::json(strings).dump();
  }
  std::string cmd = "node '" + root + "/tests/tools/" + tool + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " '" + in_path + "' '" + out_path + "' " + extra_args;
  std::string log;
  const int code = run_command(cmd + " 2>&1", &log);
  if (code != 0) {
    ADD_FAILURE() << "`" << cmd << "` exited with " << code
                  << (code == 127 ? " (node not found on PATH: install Node.js >= 18)" : "")
                  << ":\n" << log;
    return nullptr;
  }
  std::ifstream out(out_path, std::ios::binary);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) ADD_FAILURE() << "unreadable output of `" << cmd << "`";
  return j;
}

}  // namespace ril::text::testing
