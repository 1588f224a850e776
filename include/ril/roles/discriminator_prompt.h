// The discriminator's input (DESIGN.md section 1, paper): the response text alone, wrapped in a
// fixed ChatML prompt; no question, no image.
//   <|im_start|>system\nYou are a discriminator assistant. ... Return 0 if teacher, 1 if student.<|im_end|>\n
//   <|im_start|>user\n<response>{response}</response><|im_end|>\n<|im_start|>assistant\n
// The response is encoded as plain text (allow_special=false: a response never becomes a control
// token) and cut to max_response_tokens, so every response of any length or tokenizer fits.
// D's score is read at the last token (the assistant header's newline).
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
  std::vector<int64_t> prefix_, suffix_;
  int64_t pad_ = 0;
};

}  // namespace ril::roles
