// Helpers shared by the text-area tests: fixture paths, temp dirs, the deterministic string
// generator, and running the node reference tools in tests/tools/.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ril::text::testing {

// $RIL_FIXTURES/tokenizer/<name>; fails the test when RIL_FIXTURES is unset.
inline std::string tokenizer_fixture(const std::string& name) {
  const char* root = std::getenv("RIL_FIXTURES");
  if (!root) {
    ADD_FAILURE() << "RIL_FIXTURES is not set (ctest sets it; by hand: "
                     "RIL_FIXTURES=<repo>/tests/fixtures)";
    return "tests/fixtures/tokenizer/" + name;
  }
  return std::string(root) + "/tokenizer/" + name;
}

// $RIL_SOURCE_DIR, or "" after failing the test when unset.
std::string source_dir();

// A fresh directory under $TMPDIR (or /tmp) for files a test writes, removed with its
// contents when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// s as a JSON string literal (escapes control characters), for failure messages.
std::string escape(const std::string& s);

// `count` varied strings, the same on every platform for a seed: words in many scripts,
// contractions, numbers, whitespace runs, punctuation, emoji (ZWJ, flags, keycaps), combining
// marks and source code; the first ones are long runs (long whitespace, words > 48 bytes).
// All characters are assigned in Unicode <= 14; none is U+0085 or U+FEFF.
std::vector<std::string> generate_strings(uint32_t seed, size_t count);

// Runs a shell command; returns its exit code (127: not found) and its output in *log.
int run_command(const std::string& cmd, std::string* log);

// Runs `node tests/tools/<tool> <args...> <in.json> <out.json> <extra_args>` with `strings` as
// in.json and returns out.json parsed; on failure fails the test and returns null.
nlohmann::json run_node_tool(const std::string& tool, const std::vector<std::string>& args,
                             const std::vector<std::string>& strings,
                             const std::string& extra_args = "");

}  // namespace ril::text::testing
