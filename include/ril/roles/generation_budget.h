// A generation budget must fit the model's positions: the longest prompt (image placeholders and
// chat template included) + the new tokens (+ the stop token a learner appends when it scores a
// response) <= max_position_embeddings. Checked with the inputs, before any model is loaded:
// `--max-new-tokens 1000000` on a 2048-position model used to run 180x slower and train on
// positions the model never saw; now it is refused, naming the most that fits.
// Which ranks call: any (pure; every rank reaches the same verdict).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ril/data/dataset.h"
#include "ril/roles/sft_batch.h"

namespace ril::roles {

struct GenerationBudget {
  std::string option;          // the option that sets it, named in the message: "--max-new-tokens"
  int64_t max_new_tokens = 0;
  int64_t extra_positions = 0; // beyond prompt + new tokens: 1 for a learner's stop token
  std::string model;           // named in the message: "the student runs/sft/model"
  int64_t max_positions = 0;   // the model's max_position_embeddings
};

// The longest prompt, in tokens, that `builder` makes of the dataset questions `questions`.
// Tokenizes only the few longest questions: the question is encoded as plain byte-level text, so
// it adds at most one token per byte to the empty prompt.
int64_t longest_prompt(const SftBatchBuilder& builder, const data::Dataset& dataset,
                       const std::vector<int64_t>& questions);

// Throws ConfigError when prompt_tokens + budget.max_new_tokens + budget.extra_positions exceeds
// budget.max_positions, saying how many new tokens fit.
void check_generation_budget(const GenerationBudget& budget, int64_t prompt_tokens);

}  // namespace ril::roles
