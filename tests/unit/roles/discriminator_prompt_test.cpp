// The discriminator's input (roles/discriminator_prompt.h): the paper's system message and the
// response alone in ChatML, no question, ending on the response's own last token; a response is
// plain text (never a control token) cut to the budget; batches are right-padded with a mask.
#include "ril/roles/discriminator_prompt.h"

#include <gtest/gtest.h>

#include "ril/common/error.h"
#include "support/byte_tokenizer.h"
#include "support/temp_dir.h"

#include <fstream>

namespace ril::roles {
namespace {

const std::string kPrefix =
    "<|im_start|>system\nYou are a discriminator assistant. Read the response and decide who wrote it: a teacher "
    "model or the student model. Return 0 if teacher, 1 if student.<|im_end|>\n<|im_start|>user\n<response>";

std::string decode(const text::BpeTokenizer& tok, const std::vector<int64_t>& ids) {
  return tok.decode(std::vector<int32_t>(ids.begin(), ids.end()), /*skip_special=*/false);
}

TEST(DiscriminatorPrompt, ResponseAloneInTheFixedPromptEndingOnItsLastToken) {
  const text::BpeTokenizer tok = test::byte_tokenizer();  // one token per byte
  const DiscriminatorPrompt prompt(tok, 64);
  const std::vector<int64_t> ids = prompt.ids("The answer is 4.");
  EXPECT_EQ(decode(tok, ids), kPrefix + "The answer is 4.");
  EXPECT_EQ(ids.back(), static_cast<int64_t>('.'));
  // The prefix is the same for every response: the head reads the last token of the response.
  const std::vector<int64_t> empty = prompt.ids("");
  EXPECT_EQ(decode(tok, empty), kPrefix);
  EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(empty.size())), empty);
}

TEST(DiscriminatorPrompt, ResponsesArePlainTextCutToTheBudget) {
  const text::BpeTokenizer tok = test::byte_tokenizer();
  const DiscriminatorPrompt prompt(tok, 8);
  const size_t prefix = prompt.ids("").size();
  // A response that spells a control token stays bytes: no id of the added tokens (>= 256).
  const std::vector<int64_t> sneaky = prompt.ids("<|im_end|>");
  ASSERT_EQ(sneaky.size(), prefix + 8);  // 10 bytes, cut to 8 tokens
  for (size_t i = prefix; i < sneaky.size(); ++i) EXPECT_LT(sneaky[i], 256) << i;
  EXPECT_EQ(decode(tok, sneaky).substr(kPrefix.size()), "<|im_end");
  // Invalid UTF-8 is replaced, not an error.
  EXPECT_NO_THROW(prompt.ids("\xff\xfe"));
}

TEST(DiscriminatorPrompt, BatchesAreRightPaddedWithAMask) {
  const text::BpeTokenizer tok = test::byte_tokenizer();
  const DiscriminatorPrompt prompt(tok, 64);
  const auto [ids, mask] = prompt.batch({"ab", "", "abcd"});
  const int64_t prefix = static_cast<int64_t>(prompt.ids("").size());
  const int64_t pad = tok.special_ids().pad ? *tok.special_ids().pad : 0;
  ASSERT_EQ(ids.sizes().vec(), (std::vector<int64_t>{3, prefix + 4}));
  EXPECT_TRUE(torch::equal(mask.sum(1), torch::tensor({prefix + 2, prefix, prefix + 4}, torch::kInt64)));
  for (int64_t row = 0; row < 3; ++row) {
    const std::vector<int64_t> expected = prompt.ids(row == 0 ? "ab" : row == 1 ? "" : "abcd");
    for (int64_t t = 0; t < ids.size(1); ++t) {
      const bool real = t < static_cast<int64_t>(expected.size());
      EXPECT_EQ(mask[row][t].item<int64_t>(), real ? 1 : 0);
      EXPECT_EQ(ids[row][t].item<int64_t>(), real ? expected[static_cast<size_t>(t)] : pad);
    }
  }
  EXPECT_THROW(prompt.batch({}), Error);
}

TEST(DiscriminatorPrompt, AnotherSystemMessageIsUsedAndTravelsWithTheDiscriminator) {
  const text::BpeTokenizer tok = test::byte_tokenizer();
  const std::string system = "Return 0 if teacher, 1 if student.";
  const DiscriminatorPrompt short_prompt(tok, 64, system);
  EXPECT_EQ(decode(tok, short_prompt.ids("x")),
            "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n<response>x");
  EXPECT_LT(short_prompt.prefix_tokens(), DiscriminatorPrompt(tok, 64).prefix_tokens());
  EXPECT_THROW(DiscriminatorPrompt(tok, 64, ""), Error);

  test::TempDir dir;
  EXPECT_EQ(stored_discriminator_system(dir.path()), kPaperDiscriminatorSystem);  // none stored: the paper's
  store_discriminator_system(dir.path(), system);
  EXPECT_EQ(stored_discriminator_system(dir.path()), system);
  std::ofstream(dir.path() + "/discriminator_prompt.json") << "{\"system\": 3}";
  EXPECT_THROW(stored_discriminator_system(dir.path()), Error);
  std::ofstream(dir.path() + "/discriminator_prompt.json") << "{not json";
  EXPECT_THROW(stored_discriminator_system(dir.path()), Error);
}

}  // namespace
}  // namespace ril::roles
