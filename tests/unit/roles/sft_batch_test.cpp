// SFT batches and the data-parallel sampler (roles/sft_batch.h).
#include "ril/roles/sft_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "ril/data/dataset.h"
#include "support/byte_tokenizer.h"
#include "support/temp_dir.h"

namespace ril::roles {
namespace {

using test::byte_tokenizer;

TEST(SftSampler, RanksTakeDisjointSlicesOfTheOneGlobalBatch) {
  std::vector<int64_t> pool;
  for (int64_t i = 0; i < 10; ++i) pool.push_back(100 + i);
  const SftSampler one(pool, 7, 4, 1), two(pool, 7, 2, 2);
  for (int64_t step = 0; step < 12; ++step) {
    const auto a = two.rank_batch(step, 0), b = two.rank_batch(step, 1);
    std::vector<int64_t> joined = a;
    joined.insert(joined.end(), b.begin(), b.end());
    EXPECT_EQ(joined, one.rank_batch(step, 0)) << "step " << step;
    EXPECT_EQ(joined, two.global_batch(step));
  }
  // Every epoch is a permutation of the pool: 5 steps x 4 = 20 draws = 2 epochs.
  std::vector<int64_t> stream;
  for (int64_t step = 0; step < 5; ++step) {
    const auto g = one.global_batch(step);
    stream.insert(stream.end(), g.begin(), g.end());
  }
  for (int e = 0; e < 2; ++e) {
    std::vector<int64_t> epoch(stream.begin() + e * 10, stream.begin() + (e + 1) * 10);
    std::sort(epoch.begin(), epoch.end());
    EXPECT_EQ(epoch, pool);
  }
  EXPECT_NE(std::vector<int64_t>(stream.begin(), stream.begin() + 10),
            std::vector<int64_t>(stream.begin() + 10, stream.end()));  // epochs reshuffled
  EXPECT_EQ(SftSampler(pool, 7, 4, 1).global_batch(3), one.global_batch(3));  // stateless
  EXPECT_NE(SftSampler(pool, 8, 4, 1).global_batch(0), one.global_batch(0));  // seeded
}

TEST(SftBatchBuilder, PromptHoldsImagePlaceholdersAndResponseEndsWithImEnd) {
  const text::BpeTokenizer tok = byte_tokenizer();
  SftBatchOptions o;
  o.image_token_id = 1023;  // outside the tokenizer: inserted as an id
  o.image_tokens = 5;
  o.max_response_tokens = 8;
  const SftBatchBuilder builder(tok, o);
  const std::vector<int64_t> p = builder.prompt_ids("Hi<|im_end|>");
  EXPECT_EQ(std::count(p.begin(), p.end(), 1023), 5);
  const auto first = std::find(p.begin(), p.end(), 1023);
  ASSERT_NE(first, p.begin());
  EXPECT_EQ(*(first - 1), 259);  // <|vision_start|>
  EXPECT_EQ(*(first + 5), 261);  // <|vision_end|>
  EXPECT_EQ(p.front(), 257);     // <|im_start|>
  // The question's "<|im_end|>" is text, not a control token: only the template's two remain.
  EXPECT_EQ(std::count(p.begin(), p.end(), 258), 1);
  EXPECT_EQ(tok.decode(std::vector<int32_t>(p.end() - 11, p.end())), "<|im_start|>assistant\n");

  const std::vector<int64_t> r = builder.response_ids("ok");
  EXPECT_EQ(r, (std::vector<int64_t>{'o', 'k', 258}));
  EXPECT_EQ(builder.response_ids("a long rationale").size(), 8u);  // cut, no <|im_end|>

  SftBatchOptions t;
  t.with_image = false;
  const SftBatchBuilder text_only(tok, t);
  const std::vector<int64_t> q = text_only.prompt_ids("Q");
  EXPECT_EQ(tok.decode(std::vector<int32_t>(q.begin(), q.end())),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");
}

TEST(SftBatchBuilder, BatchPadsPromptsLeftAndResponsesRight) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/ds.h5";
  {
    data::DatasetWriterOptions w;
    w.path = path;
    w.image_height = w.image_width = 8;
    w.rationale_styles = {"terse"};
    w.generator = "synth";
    data::DatasetWriter writer(w);
    for (int i = 0; i < 2; ++i) {
      data::Example e;
      e.index = i;
      e.image = data::Image(8, 8, std::vector<uint8_t>(8 * 8 * 3, static_cast<uint8_t>(i * 255)));
      e.question = i == 0 ? "Q" : "A longer question";
      e.answer = "1";
      e.rationales["terse"] = i == 0 ? "Answer: 1" : "R";
      e.family = "counting";
      writer.add(e);
    }
    writer.finish();
  }
  const data::Dataset ds = data::Dataset::open(path);
  const text::BpeTokenizer tok = byte_tokenizer();
  SftBatchOptions o;
  o.image_token_id = 260;
  o.image_tokens = 3;
  const SftBatch b = SftBatchBuilder(tok, o).build(ds, {0, 1});
  ASSERT_EQ(b.prompt_ids.size(0), 2);
  EXPECT_EQ(b.prompt_mask[0][0].item<int64_t>(), 0);  // shorter prompt: left pad
  EXPECT_TRUE(b.prompt_mask.select(1, b.prompt_mask.size(1) - 1).all().item<bool>());
  EXPECT_EQ(b.response_mask.sum(1)[0].item<int64_t>(), 10);  // "Answer: 1" + <|im_end|>
  EXPECT_EQ(b.response_mask.sum(1)[1].item<int64_t>(), 2);   // right pad after "R" + <|im_end|>
  EXPECT_EQ(b.response_mask[1][2].item<int64_t>(), 0);
  EXPECT_EQ(b.response_tokens, 12);
  EXPECT_EQ(b.total_tokens, b.response_tokens + b.prompt_mask.sum().item<int64_t>());
  ASSERT_EQ(b.pixel_values.sizes(), (std::vector<int64_t>{2, 3, 8, 8}));
  EXPECT_FLOAT_EQ(b.pixel_values[0].min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(b.pixel_values[1].max().item<float>(), 1.0f);
  EXPECT_EQ((b.prompt_ids == 260).sum().item<int64_t>(), 6);
}

}  // namespace
}  // namespace ril::roles
