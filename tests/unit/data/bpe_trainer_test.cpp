// The BPE trainer: the tokenizer.json it writes loads in the text area's tokenizer, round
// trips text exactly, compresses the training text and keeps the chat special tokens whole.
#include <gtest/gtest.h>

#include "ril/common/error.h"
#include "ril/data/bpe_trainer.h"
#include "ril/data/dataset.h"
#include "ril/data/synth_generator.h"
#include "ril/text/bpe_tokenizer.h"
#include "unit/data/data_test_util.h"

namespace ril::data {
namespace {

using testing::ScratchDir;

TEST(BpeTrainer, LearnsTheMostFrequentPairsFirst) {
  BpeTrainerOptions o;
  o.vocab_size = 256 + 6 + 3;  // three merges
  const text::BpeTokenizerSpec spec = train_bpe({"aaab aaab aaab", "ab ab"}, o);
  ASSERT_EQ(spec.merges.size(), 3u);
  // GPT-2 pre-tokens: "aaab", " aaab" x2, "ab", " ab". Pair counts: aa 6, ab 5, ' a' 3 ...
  EXPECT_EQ(spec.merges[0], (std::pair<std::string, std::string>{"a", "a"}));
  EXPECT_EQ(spec.vocab.size(), 256u + 3u);
  ASSERT_EQ(spec.added_tokens.size(), 6u);
  EXPECT_EQ(spec.added_tokens[0].content, "<|endoftext|>");
  EXPECT_EQ(spec.added_tokens[0].id, 259);
}

TEST(BpeTrainer, StopsWhenPairsBecomeRare) {
  BpeTrainerOptions o;
  o.vocab_size = 5000;
  o.min_frequency = 2;
  const text::BpeTokenizerSpec spec = train_bpe({"xyz"}, o);
  EXPECT_TRUE(spec.merges.empty());
  o.vocab_size = 100;
  EXPECT_THROW(o.validate(), ConfigError);
}

TEST(BpeTrainer, TrainedTokenizerJsonRoundTrips) {
  ScratchDir dir;
  SynthOptions s;
  s.output = dir.file("d.h5");
  s.n_train = 200;
  s.n_val = 20;
  s.n_test = 20;
  write_synthetic_dataset(s);
  const Dataset d = Dataset::open(s.output);
  const std::vector<std::string> texts = dataset_texts(d, {Split::kTrain});
  ASSERT_EQ(texts.size(), 200u * 5u);  // question, answer, three rationales (terse, steps, explained)
  EXPECT_EQ(dataset_texts(d, {Split::kTrain}, {"terse"}).size(), 200u * 3u);
  EXPECT_THROW(dataset_texts(d, {Split::kTrain}, {"poetry"}), Error);
  BpeTrainerOptions o;
  o.vocab_size = 600;
  const text::BpeTokenizer trained = text::BpeTokenizer::from_spec(train_bpe(texts, o), "trained");
  trained.save_tokenizer_json(dir.file("tokenizer.json"));
  const text::BpeTokenizer loaded = text::BpeTokenizer::from_tokenizer_json(dir.file("tokenizer.json"));
  EXPECT_EQ(loaded.vocab_size(), trained.vocab_size());
  EXPECT_LE(loaded.vocab_size(), 600);

  // Round trips on the dataset's text (val split: not trained on) and on unseen text.
  const std::vector<std::string> val = dataset_texts(d, {Split::kVal});
  size_t bytes = 0, tokens = 0;
  for (const std::string& t : val) {
    const std::vector<int32_t> ids = loaded.encode(t);
    EXPECT_EQ(loaded.decode(ids), t);
    EXPECT_EQ(ids, trained.encode(t)) << t;
    bytes += t.size();
    tokens += ids.size();
  }
  EXPECT_LT(static_cast<double>(tokens), 0.4 * static_cast<double>(bytes)) << "BPE should compress its own domain";
  for (const std::string t : {"Ünïcödé 日本語 text \xf0\x9f\x98\x80", "  spaces\n\nand\ttabs ", "x"}) {
    EXPECT_EQ(loaded.decode(loaded.encode(t)), t);
  }

  // Chat special tokens are single ids.
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image_pad|>"}) {
    const std::vector<int32_t> ids = loaded.encode(special);
    ASSERT_EQ(ids.size(), 1u) << special;
    EXPECT_TRUE(loaded.is_special(ids[0])) << special;
  }
  const std::vector<int32_t> chat = loaded.encode("<|im_start|>user\nHow many red squares are there?<|im_end|>");
  EXPECT_EQ(chat.front(), *loaded.token_to_id("<|im_start|>"));
  EXPECT_EQ(chat.back(), *loaded.token_to_id("<|im_end|>"));
  ASSERT_TRUE(loaded.special_ids().im_end.has_value());
}

TEST(BpeTrainer, IsDeterministic) {
  const std::vector<std::string> texts = {"the cat sat on the mat", "the hat", "that cat"};
  BpeTrainerOptions o;
  o.vocab_size = 280;
  o.min_frequency = 1;
  const text::BpeTokenizerSpec a = train_bpe(texts, o), b = train_bpe(texts, o);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.vocab, b.vocab);
}

}  // namespace
}  // namespace ril::data
