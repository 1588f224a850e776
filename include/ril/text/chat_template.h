// ChatML prompts (Qwen2 / Qwen2-VL style):
//   <|im_start|>system\n{text}<|im_end|>\n<|im_start|>user\n{parts}<|im_end|>\n
//   <|im_start|>assistant\n            <- the generation prompt
// An image part renders as image_start + N x image_token + image_end (Qwen2-VL:
// "<|vision_start|>" + N x "<|image_pad|>" + "<|vision_end|>"), or, with empty start/end, as
// N copies of a plain image token such as "<image>".
// The result is text: encode it with allow_special=true so the markers become single ids.
// Message text is inserted verbatim; callers holding untrusted text that may contain
// "<|im_end|>" should encode those parts separately with allow_special=false.
#pragma once

#include <string>
#include <vector>

namespace ril::text {

struct ChatPart {
  enum class Kind { kText, kImage };
  Kind kind = Kind::kText;
  std::string text;      // kText only
  int image_tokens = 0;  // kImage only: tokens for this image; 0 = options' image_token_count

  static ChatPart make_text(std::string text) { return ChatPart{Kind::kText, std::move(text), 0}; }
  static ChatPart make_image(int image_tokens = 0) {
    return ChatPart{Kind::kImage, std::string(), image_tokens};
  }
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (any non-empty name without newline)
  std::vector<ChatPart> parts;

  static ChatMessage text(std::string role, std::string text);
  // A user turn with one image before the text (the usual VQA layout).
  static ChatMessage user_with_image(std::string text, int image_tokens = 0);
};

struct ChatTemplateOptions {
  std::string im_start = "<|im_start|>";
  std::string im_end = "<|im_end|>";
  std::string image_start = "<|vision_start|>";  // empty: none
  std::string image_token = "<|image_pad|>";
  std::string image_end = "<|vision_end|>";      // empty: none
  int image_token_count = 1;                     // per image unless the part says otherwise
  // Inserted as a system turn when the first message is not one ("" = none). Qwen2.5's own
  // template uses "You are a helpful assistant."
  std::string default_system_prompt;
};

class ChatTemplate {
 public:
  explicit ChatTemplate(ChatTemplateOptions options = {});

  // All messages, each closed by im_end + "\n"; then, if add_generation_prompt, the opening
  // of an assistant turn. Throws ril::Error on an empty role, a role with a newline or a
  // non-positive image token count.
  std::string render(const std::vector<ChatMessage>& messages,
                     bool add_generation_prompt = true) const;
  // "<|im_start|>assistant\n".
  std::string generation_prompt() const;
  // The text one image part renders to.
  std::string render_image(int image_tokens = 0) const;

  const ChatTemplateOptions& options() const { return options_; }

 private:
  ChatTemplateOptions options_;
};

}  // namespace ril::text
