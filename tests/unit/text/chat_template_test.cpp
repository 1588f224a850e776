#include "ril/text/chat_template.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ril/common/error.h"
#include "ril/text/bpe_tokenizer.h"
#include "text_test_util.h"

namespace ril::text {
namespace {

TEST(ChatTemplate, RendersChatMlExactly) {
  const ChatTemplate chat;
  const std::string prompt = chat.render({ChatMessage::text("system", "You are terse."),
                                          ChatMessage::text("user", "What is 2+2?")});
  EXPECT_EQ(prompt,
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(chat.render({ChatMessage::text("user", "hi"), ChatMessage::text("assistant", "4")},
                        /*add_generation_prompt=*/false),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n");
  EXPECT_EQ(chat.generation_prompt(), "<|im_start|>assistant\n");
}

TEST(ChatTemplate, DefaultSystemPromptOnlyWhenMissing) {
  ChatTemplateOptions options;
  options.default_system_prompt = "You are a helpful assistant.";
  const ChatTemplate chat(options);
  EXPECT_EQ(chat.render({ChatMessage::text("user", "hi")}),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chat.render({ChatMessage::text("system", "S"), ChatMessage::text("user", "hi")}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, QwenVisionPlaceholders) {
  ChatTemplateOptions options;
  options.image_token_count = 3;
  const ChatTemplate chat(options);
  EXPECT_EQ(chat.render({ChatMessage::user_with_image("Describe.")}),
            "<|im_start|>user\n<|vision_start|><|image_pad|><|image_pad|><|image_pad|>"
            "<|vision_end|>Describe.<|im_end|>\n<|im_start|>assistant\n");
  // A per-image count overrides the default.
  EXPECT_EQ(chat.render_image(1), "<|vision_start|><|image_pad|><|vision_end|>");
}

TEST(ChatTemplate, PlainImageToken) {
  ChatTemplateOptions options;
  options.image_start = "";
  options.image_end = "";
  options.image_token = "<image>";
  options.image_token_count = 2;
  const ChatTemplate chat(options);
  ChatMessage m{"user", {ChatPart::make_text("Look: "), ChatPart::make_image(),
                         ChatPart::make_text(" and "), ChatPart::make_image(4)}};
  EXPECT_EQ(chat.render({m}, false),
            "<|im_start|>user\nLook: <image><image> and <image><image><image><image><|im_end|>\n");
}

TEST(ChatTemplate, RejectsBadInput) {
  const ChatTemplate chat;
  EXPECT_THROW(chat.render({ChatMessage::text("", "x")}), Error);
  EXPECT_THROW(chat.render({ChatMessage::text("us\ner", "x")}), Error);
  ChatTemplateOptions bad;
  bad.image_token_count = 0;
  EXPECT_THROW(ChatTemplate{bad}, ConfigError);
  EXPECT_THROW(chat.render_image(-2), Error);
}

TEST(ChatTemplate, EncodesMarkersAsSingleIds) {
  const BpeTokenizer tok =
      BpeTokenizer::from_tokenizer_json(testing::tokenizer_fixture("tiny_qwen2.json"));
  ChatTemplateOptions options;
  options.image_token_count = 5;
  const ChatTemplate chat(options);
  const std::string prompt = chat.render({ChatMessage::text("system", "Be brief."),
                                          ChatMessage::user_with_image("hello world")});
  const std::vector<int32_t> ids = tok.encode(prompt);
  const int32_t pad = *tok.token_to_id("<|image_pad|>");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), pad), 5);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *tok.special_ids().im_start), 3);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *tok.special_ids().im_end), 2);
  EXPECT_EQ(ids.front(), *tok.special_ids().im_start);
  EXPECT_EQ(tok.decode(ids), prompt);
  // The generation prompt's ids end the prompt's ids.
  const std::vector<int32_t> gen = tok.encode(chat.generation_prompt());
  ASSERT_LE(gen.size(), ids.size());
  EXPECT_TRUE(std::equal(gen.begin(), gen.end(), ids.end() - gen.size()));
}

}  // namespace
}  // namespace ril::text
