// A tokenizer for tests that need no fixture file: the 256 byte tokens (ids 0..255, no merges)
// plus the ChatML and vision markers as special tokens (ids 256..261).
#pragma once

#include <cstdint>

#include "ril/text/bpe_tokenizer.h"

namespace ril::test {

inline text::BpeTokenizer byte_tokenizer() {
  text::BpeTokenizerSpec spec;
  for (int b = 0; b < 256; ++b) spec.vocab.push_back(text::byte_to_unicode(static_cast<uint8_t>(b)));
  int32_t id = 256;
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>",
                        "<|vision_end|>"}) {
    spec.added_tokens.push_back(text::AddedToken{t, id++, true, false, false});
  }
  return text::BpeTokenizer::from_spec(spec, "test");
}

}  // namespace ril::test
