// The generation budget against the model's positions (roles/generation_budget.h): the longest
// prompt is measured exactly (compared with tokenizing every question), and a budget that does
// not fit is refused naming the most that does.
#include "ril/roles/generation_budget.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ril/common/error.h"
#include "ril/model/model_config.h"
#include "support/byte_tokenizer.h"
#include "support/temp_dir.h"

namespace ril::roles {
namespace {

std::string budget_error(const GenerationBudget& b, int64_t prompt) {
  try {
    check_generation_budget(b, prompt);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GenerationBudget, LongestPromptIsExactAndIncludesTheImagePlaceholders) {
  test::TempDir dir;
  const std::string path = dir.path() + "/ds.h5";
  // Questions of many lengths, in no order; the result is compared with every prompt's count.
  const std::vector<std::string> questions = {"Q", "How many red shapes?", "caf\xc3\xa9", std::string(300, 'x'), "B"};
  {
    data::DatasetWriterOptions w;
    w.path = path;
    w.image_height = w.image_width = 8;
    w.rationale_styles = {"terse"};
    w.generator = "synth";
    data::DatasetWriter writer(w);
    for (size_t i = 0; i < questions.size(); ++i) {
      data::Example e;
      e.index = static_cast<int64_t>(i);
      e.image = data::Image(8, 8, std::vector<uint8_t>(8 * 8 * 3, 0));
      e.question = questions[i];
      e.answer = "1";
      e.rationales["terse"] = "Answer: 1";
      e.family = "counting";
      writer.add(e);
    }
    writer.finish();
  }
  const data::Dataset ds = data::Dataset::open(path);
  const text::BpeTokenizer tok = test::byte_tokenizer();
  SftBatchOptions o;
  o.image_token_id = 1023;
  o.image_tokens = 16;
  o.image_model = model::model_preset("tiny-llava");  // (issue 15: a vision config is required)
  const SftBatchBuilder builder(tok, o);
  for (const std::vector<int64_t>& ids : {std::vector<int64_t>{0, 1, 2, 3, 4}, std::vector<int64_t>{0, 2, 4}}) {
    int64_t expected = 0;
    for (int64_t q : ids) expected = std::max<int64_t>(expected, builder.prompt_ids(ds.question(q)).size());
    EXPECT_EQ(longest_prompt(builder, ds, ids), expected);
  }
  EXPECT_EQ(longest_prompt(builder, ds, {3}), static_cast<int64_t>(builder.prompt_ids("").size()) + 300);
}

TEST(GenerationBudget, RefusesWhatDoesNotFitTheModelPositions) {
  GenerationBudget b;
  b.option = "--max-new-tokens";
  b.model = "the student runs/sft/model";
  b.max_positions = 2048;
  b.max_new_tokens = 1948;
  EXPECT_EQ(budget_error(b, 100), "(no error)");
  b.max_new_tokens = 1000000;
  const std::string m = budget_error(b, 100);
  EXPECT_NE(m.find("--max-new-tokens 1000000 does not fit the student runs/sft/model"), std::string::npos) << m;
  EXPECT_NE(m.find("at most 2048 positions (max_position_embeddings)"), std::string::npos) << m;
  EXPECT_NE(m.find("so at most 1948 new tokens"), std::string::npos) << m;
  // A learner's stop token takes one more position.
  b.max_new_tokens = 1948;
  b.extra_positions = 1;
  EXPECT_NE(budget_error(b, 100).find("(+1 for the stop token), so at most 1947 new tokens"), std::string::npos);
  b.max_new_tokens = 1;
  EXPECT_NE(budget_error(b, 2048).find("its longest prompt already has 2048 tokens"), std::string::npos);
}

}  // namespace
}  // namespace ril::roles
