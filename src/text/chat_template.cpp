#include "ril/text/chat_template.h"

#include "ril/common/error.h"

namespace ril::text {

ChatMessage ChatMessage::text(std::string role, std::string text) {
  return ChatMessage{std::move(role), {ChatPart::make_text(std::move(text))}};
}

ChatMessage ChatMessage::user_with_image(std::string text, int image_tokens) {
  return ChatMessage{"user", {ChatPart::make_image(image_tokens), ChatPart::make_text(std::move(text))}};
}

ChatTemplate::ChatTemplate(ChatTemplateOptions options) : options_(std::move(options)) {
  RIL_CONFIG_CHECK(options_.image_token_count > 0,
                   "chat template: image_token_count must be positive, got ",
                   options_.image_token_count);
  RIL_CONFIG_CHECK(!options_.image_token.empty(), "chat template: image_token is empty");
  RIL_CONFIG_CHECK(!options_.im_start.empty() && !options_.im_end.empty(),
                   "chat template: im_start/im_end markers are empty");
}

std::string ChatTemplate::render_image(int image_tokens) const {
  const int n = image_tokens == 0 ? options_.image_token_count : image_tokens;
  RIL_CHECK(n > 0, "chat template: image part with ", n, " tokens");
  std::string out = options_.image_start;
  out.reserve(out.size() + n * options_.image_token.size() + options_.image_end.size());
  for (int i = 0; i < n; ++i) out += options_.image_token;
  out += options_.image_end;
  return out;
}

std::string ChatTemplate::generation_prompt() const { return options_.im_start + "assistant\n"; }

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  std::string out;
  const auto open = [&](const std::string& role) {
    out += options_.im_start;
    out += role;
    out += '\n';
  };
  const auto close = [&] {
    out += options_.im_end;
    out += '\n';
  };
  if (!options_.default_system_prompt.empty() &&
      (messages.empty() || messages.front().role != "system")) {
    open("system");
    out += options_.default_system_prompt;
    close();
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    RIL_CHECK(!m.role.empty(), "chat template: message ", i, " has an empty role");
    RIL_CHECK(m.role.find('\n') == std::string::npos, "chat template: message ", i,
              " role \"", m.role, "\" contains a newline");
    open(m.role);
    for (const ChatPart& p : m.parts) {
      if (p.kind == ChatPart::Kind::kText) {
        out += p.text;
      } else {
        out += render_image(p.image_tokens);
      }
    }
    close();
  }
  if (add_generation_prompt) out += generation_prompt();
  return out;
}

}  // namespace ril::text
