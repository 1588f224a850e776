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
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {

class DiscriminatorPrompt {
 public:
  DiscriminatorPrompt(const text::BpeTokenizer& tokenizer, int64_t max_response_tokens);
  std::vector<int64_t> ids(const std::string& response) const;
  // Right-padded batch: {ids [B, T] int64, mask [B, T] int64}.
  std::pair<torch::Tensor, torch::Tensor> batch(const std::vector<std::string>& responses) const;

 private:
  const text::BpeTokenizer& tokenizer_;
  int64_t max_response_tokens_;
  std::vector<int64_t> prefix_;
  int64_t pad_ = 0;
};

}  // namespace ril::roles
