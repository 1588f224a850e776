// SFT batches and the data-parallel sampler (roles/sft_batch.h).
#include "ril/roles/sft_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "ril/common/error.h"
#include "ril/data/dataset.h"
#include "ril/model/image_processor.h"
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

// A LLaVA config whose SigLIP tower takes `size` x `size` images in one patch.
model::ModelConfig one_patch_llava(int64_t size) {
  model::ModelConfig c = model::model_preset("tiny-llava");
  c.llava.vision_config.image_size = size;
  c.llava.vision_config.patch_size = size;
  return c;
}

TEST(SftBatchBuilder, PromptHoldsImagePlaceholdersAndResponseEndsWithImEnd) {
  const text::BpeTokenizer tok = byte_tokenizer();
  SftBatchOptions o;
  o.image_token_id = 1023;  // outside the tokenizer: inserted as an id
  o.image_tokens = 5;
  o.image_model = one_patch_llava(8);
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

// An 8 x 8 dataset of `n` examples with these rationale styles; fill(i, e) sets example i's
// image and texts (answer "1", family counting unless it says otherwise).
std::string write_small_dataset(const std::string& dir, const std::vector<std::string>& styles, int n,
                                const std::function<void(int, data::Example&)>& fill) {
  const std::string path = dir + "/ds.h5";
  data::DatasetWriterOptions w;
  w.path = path;
  w.image_height = w.image_width = 8;
  w.rationale_styles = styles;
  w.generator = "synth";
  data::DatasetWriter writer(w);
  for (int i = 0; i < n; ++i) {
    data::Example e;
    e.index = i;
    e.image = data::Image(8, 8, std::vector<uint8_t>(8 * 8 * 3, 0));
    e.answer = "1";
    e.family = "counting";
    fill(i, e);
    writer.add(e);
  }
  writer.finish();
  return path;
}

// Batch options for write_small_dataset's 8-px images: one image token (id 260) each.
SftBatchOptions one_image_token_options() {
  SftBatchOptions o;
  o.image_token_id = 260;
  o.image_tokens = 1;
  o.image_model = one_patch_llava(8);
  return o;
}

TEST(SftBatchBuilder, BatchPadsPromptsLeftAndResponsesRight) {
  ril::test::TempDir dir;
  const std::string path = write_small_dataset(dir.path(), {"terse"}, 2, [](int i, data::Example& e) {
    e.image = data::Image(8, 8, std::vector<uint8_t>(8 * 8 * 3, static_cast<uint8_t>(i * 255)));
    e.question = i == 0 ? "Q" : "A longer question";
    e.rationales["terse"] = i == 0 ? "Answer: 1" : "R";
  });
  const data::Dataset ds = data::Dataset::open(path);
  const text::BpeTokenizer tok = byte_tokenizer();
  SftBatchOptions o = one_image_token_options();
  const SftBatch b = SftBatchBuilder(tok, o).build(ds, {0, 1});
  ASSERT_EQ(b.prompt_ids.size(0), 2);
  EXPECT_EQ(b.prompt_mask[0][0].item<int64_t>(), 0);  // shorter prompt: left pad
  EXPECT_TRUE(b.prompt_mask.select(1, b.prompt_mask.size(1) - 1).all().item<bool>());
  EXPECT_EQ(b.response_mask.sum(1)[0].item<int64_t>(), 10);  // "Answer: 1" + <|im_end|>
  EXPECT_EQ(b.response_mask.sum(1)[1].item<int64_t>(), 2);   // right pad after "R" + <|im_end|>
  EXPECT_EQ(b.response_mask[1][2].item<int64_t>(), 0);
  EXPECT_EQ(b.response_tokens, 12);
  EXPECT_EQ(b.total_tokens, b.response_tokens + b.prompt_mask.sum().item<int64_t>());
  ASSERT_EQ(b.images.pixel_values.sizes(), (std::vector<int64_t>{2, 3, 8, 8}));
  EXPECT_FLOAT_EQ(b.images.pixel_values[0].min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(b.images.pixel_values[1].max().item<float>(), 1.0f);
  EXPECT_EQ(b.images.tokens, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ((b.prompt_ids == 260).sum().item<int64_t>(), 2);
  // Options made for another image size are refused rather than misaligned.
  SftBatchOptions wrong = o;
  wrong.image_tokens = 3;
  EXPECT_THROW(SftBatchBuilder(tok, wrong).build(ds, {0}), Error);
}

// --style a,b: each example gets one of the styles, fixed per example, and the split does not
// follow index parity (the synthetic families alternate by index).
TEST(SftBatchBuilder, StyleListMixesStylesPerExampleNotByParity) {
  ril::test::TempDir dir;
  const int n = 32;
  const std::string path = write_small_dataset(dir.path(), {"a", "b"}, n, [](int i, data::Example& e) {
    e.question = "Q";
    e.rationales["a"] = "A";
    e.rationales["b"] = "BB";
    e.family = i % 2 ? "counting" : "attribute";
  });
  const data::Dataset ds = data::Dataset::open(path);
  const text::BpeTokenizer tok = byte_tokenizer();
  SftBatchOptions o = one_image_token_options();
  std::vector<int64_t> all(n);
  for (int i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
  // Response tokens per example: 2 for "A" + <|im_end|>, 3 for "BB" + <|im_end|>.
  auto lengths = [&](const std::string& style) {
    o.style = style;
    const SftBatch b = SftBatchBuilder(tok, o).build(ds, all);
    std::vector<int64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(b.response_mask.sum(1)[i].item<int64_t>());
    return out;
  };
  for (int64_t len : lengths("a")) EXPECT_EQ(len, 2);
  const std::vector<int64_t> mixed = lengths("a,b");
  std::set<int64_t> even, odd;
  for (int i = 0; i < n; ++i) (i % 2 ? odd : even).insert(mixed[static_cast<size_t>(i)]);
  EXPECT_EQ(even, (std::set<int64_t>{2, 3}));
  EXPECT_EQ(odd, (std::set<int64_t>{2, 3}));
  // The same example gets the same style whatever batch it is in.
  o.style = "a,b";
  const SftBatch one = SftBatchBuilder(tok, o).build(ds, {7});
  EXPECT_EQ(one.response_mask.sum().item<int64_t>(), mixed[7]);
}

// A dataset of `n` examples with `size` x `size` gradient images (example i shifted by i).
std::string write_dataset(const std::string& dir, int64_t size, int n) {
  const std::string path = dir + "/ds.h5";
  data::DatasetWriterOptions w;
  w.path = path;
  w.image_height = w.image_width = static_cast<int>(size);
  w.rationale_styles = {"terse"};
  w.generator = "synth";
  data::DatasetWriter writer(w);
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> pixels(static_cast<size_t>(size * size * 3));
    for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = static_cast<uint8_t>((k * 7 + static_cast<size_t>(i) * 31) % 256);
    data::Example e;
    e.index = i;
    e.image = data::Image(static_cast<int>(size), static_cast<int>(size), pixels);
    e.question = "Q" + std::to_string(i);
    e.answer = "1";
    e.rationales["terse"] = "Answer: 1";
    e.family = "counting";
    writer.add(e);
  }
  writer.finish();
  return path;
}

// The byte tokenizer plus InternVL's markers and placeholder as special tokens (ids 262..264).
text::BpeTokenizer internvl_tokenizer() {
  text::BpeTokenizerSpec spec;
  for (int b = 0; b < 256; ++b) spec.vocab.push_back(text::byte_to_unicode(static_cast<uint8_t>(b)));
  int32_t id = 256;
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>",
                        "<|vision_end|>", "<img>", "</img>", "<IMG_CONTEXT>"}) {
    spec.added_tokens.push_back(text::AddedToken{t, id++, true, false, false});
  }
  return text::BpeTokenizer::from_spec(spec, "test-internvl");
}

// Ids around the first and after the last placeholder of a prompt.
std::pair<int64_t, int64_t> around_placeholders(const std::vector<int64_t>& p, int64_t placeholder) {
  const auto first = std::find(p.begin(), p.end(), placeholder);
  const auto last = std::find(p.rbegin(), p.rend(), placeholder);
  return {*(first - 1), *(last - 1)};
}

TEST(ModelBatchOptions, EachFamilyLaysOutItsPlaceholdersMarkersAndImages) {
  ril::test::TempDir dir;
  const data::Dataset ds = data::Dataset::open(write_dataset(dir.path(), 72, 2));
  const text::BpeTokenizer tok = byte_tokenizer();
  for (const char* preset : {"tiny-llava", "tiny-qwen2.5-vl", "tiny-internvl3"}) {
    SCOPED_TRACE(preset);
    model::ModelConfig config = model::model_preset(preset);
    config.set_image_token_id(*tokenizer_image_token(config, tok));
    EXPECT_EQ(config.image_token_id(), 260);  // <|image_pad|>: the byte tokenizer has no family token
    const SftBatchOptions o = model_batch_options(config, 72, 72);
    ASSERT_TRUE(o.with_image);
    EXPECT_EQ(o.image_token_id, 260);
    // tiny-llava: 64/8 = 8x8 patches; Qwen2.5-VL: 72 -> 64 px, 4x4 merged patches; InternVL: one
    // 64-px tile of 8-px patches, pixel-shuffled 2x2 -> 16.
    const int64_t expected = config.kind == model::ModelKind::kLlava ? 64 : 16;
    EXPECT_EQ(o.image_tokens, expected);
    const SftBatch b = SftBatchBuilder(tok, o).build(ds, {1, 0});
    EXPECT_EQ((b.prompt_ids == 260).sum(1)[0].item<int64_t>(), expected);
    EXPECT_EQ((b.prompt_ids == 260).sum(1)[1].item<int64_t>(), expected);
    // Images in row order, exactly as the family's processor makes them.
    const model::ImageInputs want = model::preprocess_images(
        config, {model::rgb_image(72, 72, ds.image_bytes(1)), model::rgb_image(72, 72, ds.image_bytes(0))});
    EXPECT_TRUE(torch::equal(b.images.pixel_values, want.pixel_values));
    EXPECT_EQ(b.images.tokens, want.tokens);
    EXPECT_EQ(b.images.tiles, want.tiles);
    if (want.image_grid_thw.defined()) EXPECT_TRUE(torch::equal(b.images.image_grid_thw, want.image_grid_thw));
    // Markers: the vision markers for LLaVA and Qwen2.5-VL; InternVL's <img> / </img> are not
    // tokens of this tokenizer, so none (the user turn's newline, then the question).
    const auto [before, after] = around_placeholders(SftBatchBuilder(tok, o).prompt_ids("Q"), 260);
    if (config.kind == model::ModelKind::kInternVL) {
      EXPECT_EQ(before, '\n');
      EXPECT_EQ(after, 'Q');
    } else {
      EXPECT_EQ(before, 259);
      EXPECT_EQ(after, 261);
    }
  }
  EXPECT_FALSE(model_batch_options(model::model_preset("tiny"), 72, 72).with_image);
}

TEST(ModelBatchOptions, InternVLWithItsOwnTokensAndBadInput) {
  const text::BpeTokenizer tok = internvl_tokenizer();
  model::ModelConfig config = model::model_preset("tiny-internvl3");
  EXPECT_EQ(*tokenizer_image_token(config, tok), 264);  // <IMG_CONTEXT> before <|image_pad|>
  EXPECT_EQ(*tokenizer_image_token(model::model_preset("tiny-qwen2.5-vl"), tok), 260);
  config.set_image_token_id(264);
  const SftBatchOptions o = model_batch_options(config, 64, 64);
  const std::vector<int64_t> p = SftBatchBuilder(tok, o).prompt_ids("Q");
  const auto [before, after] = around_placeholders(p, 264);
  EXPECT_EQ(before, 262);  // <img>
  EXPECT_EQ(after, 263);   // </img>, then the newline of HF's template
  const auto last = std::find(p.rbegin(), p.rend(), 264).base();
  EXPECT_EQ(*(last + 1), '\n');
  EXPECT_EQ(*(last + 2), 'Q');

  // The image token must be outside the tokenizer or one of its image tokens.
  check_image_token(config, tok, "test");  // <IMG_CONTEXT>
  config.set_image_token_id(1023);
  check_image_token(config, tok, "test");  // outside the vocabulary
  config.set_image_token_id('A');
  EXPECT_THROW(check_image_token(config, tok, "test"), ConfigError);
  EXPECT_THROW(model::model_preset("tiny").set_image_token_id(5), Error);
  // Images the family cannot take: ConfigError naming the size.
  try {
    model_batch_options(model::model_preset("tiny-qwen2.5-vl"), 12, 12);
    ADD_FAILURE() << "12x12 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("12x12"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model_batch_options(model::model_preset("tiny-internvl3"), 5, 64), ConfigError);
}

}  // namespace
}  // namespace ril::roles
