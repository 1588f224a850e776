// BpeTokenizer on small hand-made fixtures (tests/fixtures/tokenizer/, made by
// tests/tools/make_tokenizer_fixtures.js): merges, added/special tokens, NFC, the Qwen2
// pre-tokenizer, save/reload, GPT-2 files, every load error and the invalid UTF-8 policy.
#include "ril/text/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "text_test_util.h"

namespace ril::text {
namespace {

using testing::TempDir;
using testing::tokenizer_fixture;
using Ids = std::vector<int32_t>;

BpeTokenizer load(const std::string& name) {
  return BpeTokenizer::from_tokenizer_json(tokenizer_fixture(name));
}

int32_t id_of(const BpeTokenizer& tok, const std::string& token) {
  const auto id = tok.token_to_id(token);
  EXPECT_TRUE(id.has_value()) << "no token " << token;
  return id.value_or(-1);
}

// Ids of single-byte tokens for each byte of s.
Ids byte_ids(const BpeTokenizer& tok, const std::string& s) {
  Ids out;
  for (char c : s) out.push_back(id_of(tok, byte_to_unicode(static_cast<uint8_t>(c))));
  return out;
}

Ids concat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string show(const BpeTokenizer& tok, const Ids& ids) {
  std::string out;
  for (const std::string& p : tok.pieces(ids)) out += "[" + p + "]";
  return out;
}

TEST(BpeTokenizer, LoadsQwen2StyleTokenizerJson) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  EXPECT_EQ(tok.vocab_size(), 256 + 18 + 7);
  const SpecialTokenIds& s = tok.special_ids();
  ASSERT_TRUE(s.im_start && s.im_end && s.endoftext && s.eos && s.pad);
  EXPECT_EQ(tok.id_to_token(*s.im_start), "<|im_start|>");
  EXPECT_EQ(tok.id_to_token(*s.im_end), "<|im_end|>");
  EXPECT_EQ(*s.eos, *s.im_end);     // chat models stop at <|im_end|>
  EXPECT_EQ(*s.pad, *s.endoftext);  // Qwen pads with <|endoftext|>
  EXPECT_FALSE(s.bos.has_value());
  EXPECT_EQ(tok.id_to_token(id_of(tok, "Ġworld")), "Ġworld");
  EXPECT_EQ(tok.token_bytes(id_of(tok, "Ġworld")), " world");
  EXPECT_EQ(tok.pre_tokenizer_pattern(), kQwen2Pattern);
  EXPECT_THROW(tok.id_to_token(tok.vocab_size()), Error);
  EXPECT_THROW(tok.id_to_token(-1), Error);
}

TEST(BpeTokenizer, AppliesMergesByRank) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  const Ids ids = tok.encode("hello world");
  EXPECT_EQ(ids, (Ids{id_of(tok, "hello"), id_of(tok, "Ġworld")})) << show(tok, ids);
  // "the" vs " the": both merge fully; "in" inside a word too.
  EXPECT_EQ(tok.encode(" the thin"),
            concat({{id_of(tok, "Ġthe"), id_of(tok, "Ġt")}, byte_ids(tok, "h"),
                    {id_of(tok, "in")}}))
      << show(tok, tok.encode(" the thin"));
  // 60 letters form one pre-token, long enough for the heap-based merge path.
  std::string long_word;
  for (int i = 0; i < 12; ++i) long_word += "hello";
  EXPECT_EQ(tok.encode(long_word), Ids(12, id_of(tok, "hello")));
}

TEST(BpeTokenizer, Qwen2PreTokenizerSplitsDigitsAndNewlines) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  EXPECT_EQ(tok.encode("2024"), byte_ids(tok, "2024"));  // \p{N}: one digit per pre-token
  // "\n\n" is one pre-token "\s*[\r\n]+" and merges to "ĊĊ".
  EXPECT_EQ(tok.encode("a\n\nb"), (Ids{id_of(tok, "a"), id_of(tok, "ĊĊ"), id_of(tok, "b")}));
  // CJK: 你 merges from its three bytes.
  const Ids cjk = tok.encode("你好");
  EXPECT_EQ(cjk.front(), id_of(tok, "ä½ł")) << show(tok, cjk);
  EXPECT_EQ(tok.decode(cjk), "你好");
}

TEST(BpeTokenizer, SpecialTokensMatchBeforePreTokenization) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  const int32_t im_start = id_of(tok, "<|im_start|>"), im_end = id_of(tok, "<|im_end|>");
  const std::string text = "<|im_start|>hello<|im_end|> world";
  const Ids ids = tok.encode(text);
  EXPECT_EQ(ids, (Ids{im_start, id_of(tok, "hello"), im_end, id_of(tok, "Ġworld")}))
      << show(tok, ids);
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "hello world");
  EXPECT_TRUE(tok.is_special(im_end));
  EXPECT_FALSE(tok.is_special(id_of(tok, "hello")));

  // Not recognised: plain text, and it still round-trips.
  EncodeOptions plain;
  plain.allow_special = false;
  const Ids as_text = tok.encode(text, plain);
  for (const int32_t id : as_text) EXPECT_FALSE(tok.is_special(id)) << show(tok, as_text);
  EXPECT_EQ(tok.decode(as_text), text);

  // A non-special added token matches either way and survives skip_special.
  const int32_t think = id_of(tok, "<think>");
  EXPECT_FALSE(tok.is_special(think));
  const Ids t = tok.encode("<think>hello", plain);
  EXPECT_EQ(t, (Ids{think, id_of(tok, "hello")}));
  EXPECT_EQ(tok.decode(t, /*skip_special=*/true), "<think>hello");
  // Adjacent, at both ends, and a near miss.
  EXPECT_EQ(tok.encode("<|im_end|><|im_end|>"), (Ids{im_end, im_end}));
  EXPECT_EQ(tok.decode(tok.encode("<|im_end|")), "<|im_end|");
}

TEST(BpeTokenizer, AddedTokensLongestMatchAndStrip) {
  BpeTokenizerSpec spec = load("tiny_qwen2.json").spec();
  const int32_t base = static_cast<int32_t>(spec.vocab.size());
  spec.added_tokens = {AddedToken{"ab", base, true},
                       AddedToken{"abc", base + 1, true},
                       AddedToken{"<L>", base + 2, true, /*lstrip=*/true, /*rstrip=*/false},
                       AddedToken{"<R>", base + 3, true, /*lstrip=*/false, /*rstrip=*/true}};
  const BpeTokenizer tok = BpeTokenizer::from_spec(spec);
  EXPECT_EQ(tok.encode("abcab"), (Ids{base + 1, base}));
  EXPECT_EQ(tok.encode("x  <L>y"), concat({byte_ids(tok, "x"), {base + 2}, byte_ids(tok, "y")}));
  EXPECT_EQ(tok.encode("x<R> \n y"), concat({byte_ids(tok, "x"), {base + 3}, byte_ids(tok, "y")}));
}

TEST(BpeTokenizer, ByteLevelOptions) {
  // add_prefix_space: "world" is encoded as " world", once per stretch between added tokens.
  const BpeTokenizer prefix = load("tiny_prefix_space.json");
  const int32_t eot = id_of(prefix, "<|endoftext|>");
  EXPECT_EQ(prefix.encode("world"), prefix.encode(" world"));
  EXPECT_EQ(prefix.encode("world<|endoftext|>world"),
            concat({prefix.encode(" world"), {eot}, prefix.encode(" world")}));
  // use_regex=false: the whole stretch is one pre-token, so merges cross word boundaries.
  const BpeTokenizer whole = load("tiny_no_regex.json");
  const BpeTokenizer split = load("tiny_qwen2.json");
  EXPECT_EQ(whole.encode("hello world"),
            (Ids{id_of(whole, "Ġ"), id_of(whole, "hello"), id_of(whole, "Ġworld")}));
  EXPECT_EQ(whole.encode("a\n\nb"), (Ids{id_of(whole, "Ġ"), id_of(whole, "a"),
                                          id_of(whole, "ĊĊ"), id_of(whole, "b")}));
  // The GPT-2 regex puts the two newlines of "a\n\nb" in different pre-tokens.
  EXPECT_EQ(prefix.encode("a\n\nb"), concat({prefix.encode(" a"), byte_ids(prefix, "\n\nb")}));
  EXPECT_EQ(split.encode("hello world"), (Ids{id_of(split, "hello"), id_of(split, "Ġworld")}));
  // Pattern and option survive a save.
  const TempDir dir("tokenizer_options");
  whole.save_tokenizer_json(dir / "whole.json");
  EXPECT_EQ(BpeTokenizer::from_tokenizer_json(dir / "whole.json").encode("a hello world"),
            whole.encode("a hello world"));
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeWordsFromVocab) {
  const BpeTokenizer tok = load("tiny_ignore_merges.json");
  const BpeTokenizer merged = load("tiny_qwen2.json");
  EXPECT_EQ(tok.encode(" thin"), Ids{id_of(tok, "Ġthin")});
  EXPECT_EQ(merged.encode(" thin"),
            (Ids{id_of(merged, "Ġt"), id_of(merged, "h"), id_of(merged, "in")}));
  // "wor" is in the vocabulary but "world" is not: merges as usual.
  EXPECT_EQ(tok.encode("wor world"), (Ids{id_of(tok, "wor"), id_of(tok, "Ġworld")}));
}

TEST(BpeTokenizer, NfcNormalizer) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  const int32_t e_acute = id_of(tok, "Ã©");
  EXPECT_EQ(tok.encode("\xC3\xA9"), Ids{e_acute});   // é precomposed
  EXPECT_EQ(tok.encode("e\xCC\x81"), Ids{e_acute});  // e + U+0301 composes to é
  // Normalization is lossy for non-NFC input: decode gives the NFC form.
  EXPECT_EQ(tok.decode(tok.encode("e\xCC\x81")), "\xC3\xA9");
  // Without a normalizer the decomposed form stays decomposed.
  const BpeTokenizer raw = load("tiny_gpt2_style.json");
  EXPECT_EQ(raw.decode(raw.encode("e\xCC\x81")), "e\xCC\x81");
}

const std::vector<std::string>& round_trip_strings() {
  static const std::vector<std::string> strings = {
      "",
      " ",
      "hello world",
      "  leading and trailing  ",
      "tabs\tand\nnewlines\r\n\n\n  \t",
      "I'm sure it's what they've said: we'll, you'd, they're",
      "numbers 1234567890 and 3.14159, -42",
      "Ünïcödé ñ ç ß Ω Ж 你好世界 こんにちは 안녕하세요 مرحبا שלום",
      "combining: e\xCC\x81 a\xCC\x8A\xCC\x81 Z\xCD\x91\xCC\xB6",
      "emoji 😀👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️",
      "code: for (int i = 0; i < n; ++i) { x[i] += y[i] * 2; }  // done",
      "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
      "\x01\x02\x7F control bytes \xC2\x85 NEL \xEF\xBB\xBF BOM",
  };
  return strings;
}

TEST(BpeTokenizer, RoundTripsArbitraryUtf8) {
  const BpeTokenizer tok = load("tiny_gpt2_style.json");
  const BpeTokenizer qwen = load("tiny_qwen2.json");
  EncodeOptions plain;
  plain.allow_special = false;
  for (const std::string& s : round_trip_strings()) {
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
    EXPECT_EQ(tok.decode(tok.encode(s, plain)), s);
    // The NFC tokenizer round-trips NFC text (the combining-mark line is not NFC).
    if (s.find("combining") == std::string::npos) EXPECT_EQ(qwen.decode(qwen.encode(s)), s);
  }
}

TEST(BpeTokenizer, RoundTripsRandomCodePoints) {
  // Any scalar value, assigned or not (private use, noncharacters, astral planes).
  const BpeTokenizer tok = load("tiny_gpt2_style.json");
  const BpeTokenizer qwen = load("tiny_qwen2.json");
  std::mt19937 rng(77);
  size_t failures = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    const int n = 1 + rng() % 30;
    for (int k = 0; k < n; ++k) {
      const uint32_t kind = rng() % 4;
      uint32_t cp = kind == 0 ? rng() % 0x80 : kind == 1 ? rng() % 0x800
                                                : kind == 2 ? rng() % 0x10000 : rng() % 0x110000;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    ASSERT_FALSE(find_invalid_utf8(s).has_value());
    if (tok.decode(tok.encode(s)) != s && ++failures <= 3) ADD_FAILURE() << "round trip " << i;
    // NFC text round-trips through the NFC tokenizer too.
    const std::string nfc = to_nfc(s);
    if (qwen.decode(qwen.encode(nfc)) != nfc && ++failures <= 3) ADD_FAILURE() << "NFC " << i;
  }
  EXPECT_EQ(failures, 0u);
}

TEST(BpeTokenizer, MergesAsArraysReadLikeStrings) {
  const BpeTokenizer a = load("tiny_qwen2.json");
  const BpeTokenizer b = load("tiny_qwen2_array_merges.json");
  for (const std::string& s : round_trip_strings()) EXPECT_EQ(a.encode(s), b.encode(s)) << s;
}

TEST(BpeTokenizer, SaveAndReloadGivesSameIds) {
  const TempDir dir("tokenizer_save");
  for (const char* name : {"tiny_qwen2.json", "tiny_gpt2_style.json"}) {
    SCOPED_TRACE(name);
    const BpeTokenizer tok = load(name);
    const std::string path = dir / name;
    tok.save_tokenizer_json(path);
    const BpeTokenizer back = BpeTokenizer::from_tokenizer_json(path);
    EXPECT_EQ(back.vocab_size(), tok.vocab_size());
    EXPECT_EQ(back.pre_tokenizer_pattern(), tok.pre_tokenizer_pattern());
    EXPECT_EQ(back.added_tokens().size(), tok.added_tokens().size());
    for (const std::string& s : round_trip_strings()) EXPECT_EQ(back.encode(s), tok.encode(s)) << s;

    // The file has the shape HF `tokenizers` expects.
    std::ifstream in(path);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["model"]["type"], "BPE");
    EXPECT_EQ(j["decoder"]["type"], "ByteLevel");
    EXPECT_TRUE(j["model"]["merges"][0].is_string());
    EXPECT_EQ(j["model"]["vocab"].size(), 256u + 18u);
    EXPECT_EQ(j["added_tokens"][0]["content"], "<|endoftext|>");
  }
}

TEST(BpeTokenizer, BuildsFromSpecInMemory) {
  // What a trainer would hand over: bytes, ordered merges, special tokens, a pattern.
  BpeTokenizerSpec spec;
  for (int b = 0; b < 256; ++b) spec.vocab.push_back(byte_to_unicode(static_cast<uint8_t>(b)));
  spec.merges = {{"a", "b"}, {"ab", "c"}, {"Ġ", "abc"}};
  spec.vocab.insert(spec.vocab.end(), {"ab", "abc", "Ġabc"});
  spec.added_tokens = {AddedToken{"<|endoftext|>", 259, true}};
  spec.pre_tokenizer_pattern = kQwen2Pattern;
  const BpeTokenizer tok = BpeTokenizer::from_spec(spec, "trainer output");
  EXPECT_EQ(tok.encode("abc abc<|endoftext|>"), (Ids{257, 258, 259}));
  EXPECT_EQ(tok.vocab_size(), 260);
  EXPECT_EQ(tok.special_ids().endoftext, 259);

  const TempDir dir("tokenizer_spec");
  const std::string path = dir / "tokenizer.json";
  tok.save_tokenizer_json(path);
  const BpeTokenizer back = BpeTokenizer::from_tokenizer_json(path);
  EXPECT_EQ(back.encode("abc abc<|endoftext|>"), (Ids{257, 258, 259}));

  spec.vocab[65].clear();  // drop the byte 'A'
  try {
    BpeTokenizer::from_spec(spec, "trainer output");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trainer output: key 'model.vocab': no token for byte 0x41"),
              std::string::npos)
        << e.what();
  }
}

TEST(BpeTokenizer, ReadsGpt2VocabAndMergesFiles) {
  const BpeTokenizer files = BpeTokenizer::from_gpt2_files(tokenizer_fixture("tiny_vocab.json"),
                                                           tokenizer_fixture("tiny_merges.txt"));
  const BpeTokenizer json = load("tiny_gpt2_style.json");
  EXPECT_EQ(files.vocab_size(), json.vocab_size());
  EXPECT_TRUE(files.is_special(id_of(files, "<|endoftext|>")));
  for (const std::string& s : round_trip_strings()) EXPECT_EQ(files.encode(s), json.encode(s)) << s;
}

// The message of what `load` throws must contain every one of `parts`.
void expect_error(const std::function<void()>& load_fn, std::initializer_list<std::string> parts) {
  try {
    load_fn();
    ADD_FAILURE() << "no error; expected one naming " << *parts.begin();
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& p : parts) {
      EXPECT_NE(what.find(p), std::string::npos) << "message lacks \"" << p << "\": " << what;
    }
  }
}

TEST(BpeTokenizer, BadFilesNameFileAndKey) {
  const auto json = [](const std::string& name) {
    return [name] { load(name); };
  };
  expect_error(json("no_such_file.json"), {"cannot open tokenizer.json", "no_such_file.json"});
  expect_error(json("bad_malformed.json"), {"malformed JSON", "bad_malformed.json"});
  expect_error(json("bad_model_wordpiece.json"),
               {"bad_model_wordpiece.json", "key 'model.type'", "\"WordPiece\""});
  expect_error(json("bad_model_unigram.json"),
               {"bad_model_unigram.json", "key 'model.type'", "\"Unigram\""});
  expect_error(json("bad_normalizer.json"),
               {"bad_normalizer.json", "key 'normalizer.type'", "\"Lowercase\""});
  expect_error(json("bad_missing_vocab.json"), {"bad_missing_vocab.json", "key 'model.vocab'"});
  expect_error(json("bad_missing_merges.json"),
               {"bad_missing_merges.json", "key 'model.merges'"});
  expect_error(json("bad_unknown_merge.json"),
               {"bad_unknown_merge.json", "key 'model.merges' entry 18", "zzz#", "not in model.vocab"});
  expect_error(json("bad_prefix_after_split.json"),
               {"bad_prefix_after_split.json",
                "key 'pre_tokenizer.pretokenizers[1].add_prefix_space'"});
  expect_error(json("bad_merge_entry.json"), {"bad_merge_entry.json", "key 'model.merges[3]'"});
  expect_error(json("bad_pre_tokenizer.json"),
               {"bad_pre_tokenizer.json", "key 'pre_tokenizer.pretokenizers[0].type'", "\"Digits\""});
  expect_error(
      [] {
        BpeTokenizer::from_gpt2_files(tokenizer_fixture("tiny_vocab.json"),
                                      tokenizer_fixture("bad_merges.txt"));
      },
      {"merges.txt", "bad_merges.txt", "line 3"});
  expect_error(
      [] {
        BpeTokenizer::from_gpt2_files(tokenizer_fixture("missing_vocab.json"),
                                      tokenizer_fixture("tiny_merges.txt"));
      },
      {"cannot open vocab.json", "missing_vocab.json"});
  expect_error(
      [] {
        BpeTokenizer::from_gpt2_files(tokenizer_fixture("tiny_vocab.json"),
                                      tokenizer_fixture("missing_merges.txt"));
      },
      {"cannot open merges.txt", "missing_merges.txt"});
  expect_error(
      [] {
        BpeTokenizerSpec spec = load("tiny_qwen2.json").spec();
        spec.added_tokens.push_back(AddedToken{"<dup>", spec.added_tokens.front().id, true});
        BpeTokenizer::from_spec(spec, "dup spec");
      },
      {"dup spec: key 'added_tokens': id 274 used by \"<|endoftext|>\" and \"<dup>\""});
  expect_error(
      [] {
        BpeTokenizer::from_gpt2_files(tokenizer_fixture("bad_malformed.json"),
                                      tokenizer_fixture("tiny_merges.txt"));
      },
      {"malformed JSON in vocab.json", "bad_malformed.json"});
}

TEST(BpeTokenizer, DecodeRejectsUnknownIds) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  expect_error([&] { tok.decode({1, 2, 99999}); }, {"token id 99999", "tiny_qwen2.json"});
  expect_error([&] { tok.decode({-3}); }, {"token id -3"});
}

TEST(InvalidUtf8, FindsFirstBadByte) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::nullopt);
  EXPECT_EQ(find_invalid_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80"), std::nullopt);
  EXPECT_EQ(find_invalid_utf8("abc\xFF"), 3u);
  EXPECT_EQ(find_invalid_utf8("0123456789ab\xE4\xBD"), 12u);   // truncated 3-byte sequence
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);                // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);           // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);        // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok\x80"), 2u);                  // stray continuation byte
}

TEST(InvalidUtf8, ReplacesMaximalSubparts) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(replace_invalid_utf8("a\xFF" "b"), "a" + fffd + "b");
  EXPECT_EQ(replace_invalid_utf8("\xE4\xBD" "x"), fffd + "x");  // one maximal subpart
  EXPECT_EQ(replace_invalid_utf8("\xF0\x80\x80"), fffd + fffd + fffd);
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"), fffd + fffd + fffd);
}

TEST(InvalidUtf8, EncodeThrowsWithOffsetByDefault) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  expect_error([&] { tok.encode("hello \xFF world"); }, {"invalid UTF-8 at byte offset 6"});
  expect_error([&] { tok.encode("<|im_start|>\xE4\xBD"); }, {"invalid UTF-8 at byte offset 12"});
}

TEST(InvalidUtf8, ReplaceModeSubstitutesAndNeverCrashes) {
  const BpeTokenizer tok = load("tiny_gpt2_style.json");
  EncodeOptions replace;
  replace.invalid_utf8 = InvalidUtf8::kReplace;
  EXPECT_EQ(tok.encode("a\xFF" "b", replace), tok.encode("a\xEF\xBF\xBD" "b"));
  // Random bytes: always a result, and it decodes to the documented replacement.
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? rng() % 128 : 128 + rng() % 128);
    const Ids ids = tok.encode(s, replace);
    EXPECT_EQ(tok.decode(ids), replace_invalid_utf8(s));
  }
}

TEST(BpeTokenizer, EncodesFromSeveralThreads) {
  const BpeTokenizer tok = load("tiny_qwen2.json");
  std::vector<Ids> expected;
  for (const std::string& s : round_trip_strings()) expected.push_back(tok.encode(s));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 200; ++rep) {
        for (size_t i = 0; i < expected.size(); ++i) {
          if (tok.encode(round_trip_strings()[i]) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace ril::text
