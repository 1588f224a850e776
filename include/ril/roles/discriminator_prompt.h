// The discriminator's input (DESIGN.md section 1, paper): the response text alone, wrapped in a
// fixed ChatML prompt; no question, no image.
//   <|im_start|>system\nYou are a discriminator assistant. ... Return 0 if teacher, 1 if student.<|im_end|>\n
//   <|im_start|>user\n<response>{response}
// D's score is read at the last token. Deviation from the paper's template: the input ends with
// the response itself, not with "</response><|im_end|>..." — with a fixed suffix last, a small
// mirror model's last hidden state hardly depends on the response (measured here: accuracy
// stuck at 0.50 on every step of pre-training); ending on the response's own last token keeps
// the paper's last-token head and lets D see the text.
// The response is encoded as plain text (allow_special=false: a response never becomes a control
// token) and cut to max_response_tokens, so every response of any length or tokenizer fits.
// The system message is the paper's unless --disc-system names another (a shorter one makes every
// D pass cheaper: the fixed prefix is most of D's input for short answers). Whatever D was trained
// with is stored beside its weights (discriminator_prompt.json) and read back with them, so a
// discriminator is never scored under a prompt it was not trained on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {

// The paper's system message.
extern const char* const kPaperDiscriminatorSystem;

// The system message stored in discriminator directory `dir`; the paper's when the directory has
// none (written before the message was configurable). Throws ril::Error on a malformed file.
std::string stored_discriminator_system(const std::string& dir);
// Writes `system` to `dir`/discriminator_prompt.json.
void store_discriminator_system(const std::string& dir, const std::string& system);

class DiscriminatorPrompt {
 public:
  DiscriminatorPrompt(const text::BpeTokenizer& tokenizer, int64_t max_response_tokens,
                      const std::string& system = kPaperDiscriminatorSystem);
  const std::string& system() const { return system_; }
  int64_t prefix_tokens() const { return static_cast<int64_t>(prefix_.size()); }
  std::vector<int64_t> ids(const std::string& response) const;
  // Right-padded batch: {ids [B, T] int64, mask [B, T] int64}.
  std::pair<torch::Tensor, torch::Tensor> batch(const std::vector<std::string>& responses) const;

 private:
  const text::BpeTokenizer& tokenizer_;
  int64_t max_response_tokens_;
  std::string system_;
  std::vector<int64_t> prefix_;
  int64_t pad_ = 0;
};

}  // namespace ril::roles
