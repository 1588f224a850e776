// `ril-data tokenizer`: trains a byte-level BPE tokenizer (GPT-2 style: the 256 byte tokens,
// then merges learnt by pair frequency over pre-tokens split by the same regex that
// ril::text::BpeTokenizer applies at encode time) on a dataset's text, adds the chat special
// tokens, and returns a spec that BpeTokenizer::from_spec() builds and save_tokenizer_json()
// writes as an HF tokenizer.json.
#pragma once

#include <string>
#include <vector>

#include "ril/data/dataset.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::data {

struct BpeTrainerOptions {
  int vocab_size = 2048;        // total: 256 bytes + merges + special tokens
  int min_frequency = 2;        // a pair seen fewer times is never merged
  std::vector<std::string> special_tokens = {"<|endoftext|>", "<|im_start|>",  "<|im_end|>",
                                             "<|vision_start|>", "<|image_pad|>", "<|vision_end|>"};
  std::string pre_tokenizer_pattern = text::kGpt2Pattern;
  void validate() const;        // throws ril::ConfigError
};

// Deterministic: ties between equally frequent pairs go to the lexicographically smallest.
text::BpeTokenizerSpec train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options);

// The training text of a dataset: question, answer and the rationales of each example in
// `splits` (empty: all splits), of the rationale `styles` (empty: every style of the file; a style
// the file lacks throws ril::Error).
std::vector<std::string> dataset_texts(const Dataset& dataset, const std::vector<Split>& splits,
                                       const std::vector<std::string>& styles = {});

}  // namespace ril::data
