// Greedy answers of a model to dataset questions: what `ril eval` scores and what `ril train
// --val-every` logs as the validation accuracy, so both measure the same thing.
// - Prompt: exactly as SFT builds it (SftBatchBuilder::prompt_ids: ChatML user turn with the
//   model's image placeholders for a vision family, text only for Qwen2), left-padded.
// - Images: preprocessed by the model's family as in SFT (model::preprocess_images; LLaVA resizes
//   dataset images of another size than its tower's, bicubic as HF's processor).
// - Generation: greedy, at most max_new_tokens, a row ends at <|im_end|> (also at the
//   tokenizer's eos and the model's eos ids). The response is the decoded text before the stop
//   token (special tokens skipped); its token count includes the stop token.
// Which ranks call: any rank holding the model; no communication.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ril/data/dataset.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {

struct EvalAnswer {     // what a model produced for one question
  int64_t index = 0;    // example index in the dataset
  int64_t tokens = 0;   // generated tokens, the stop token included
  std::string response;
};

class GreedyAnswerer {
 public:
  // Checks that tokenizer and model belong together (vocabulary sizes, ChatML tokens, image
  // token id) and that the model takes `dataset`'s images; throws ConfigError starting with `who`
  // otherwise. Keeps a reference to `tokenizer`, which must outlive the answerer; answers
  // questions of datasets with `dataset`'s image size.
  GreedyAnswerer(const text::BpeTokenizer& tokenizer, const model::ModelConfig& config, const data::Dataset& dataset,
                 int64_t max_new_tokens, const std::string& who);

  // Answers to dataset questions `ids` in one generate call (rows in the order of `ids`).
  std::vector<EvalAnswer> answer(model::PretrainedModel& model, const data::Dataset& dataset,
                                 const std::vector<int64_t>& ids, at::Device device) const;

  const model::GenerationOptions& generation() const { return generation_; }
  const SftBatchBuilder& prompts() const { return *builder_; }  // how it builds its prompts

 private:
  const text::BpeTokenizer& tokenizer_;
  model::GenerationOptions generation_;
  std::unique_ptr<SftBatchBuilder> builder_;
};

// The checks every model that answers through a ChatML prompt needs (ConfigError starting with
// `who`): the tokenizer has <|im_start|>/<|im_end|> and is not larger than the model's vocabulary.
void check_chat_tokenizer(const text::BpeTokenizer& tokenizer, const model::ModelConfig& config, const std::string& who);

// The greedy generation options of `ril eval` and the val curve: at most max_new_tokens, a row
// ends at <|im_end|>, the tokenizer's eos or one of the model's eos ids.
model::GenerationOptions greedy_generation_options(const text::BpeTokenizer& tokenizer,
                                                  const model::ModelConfig& config, int64_t max_new_tokens);

struct GreedyText {        // one generated row
  std::string text;        // decoded before the stop token (special tokens skipped)
  int64_t tokens = 0;      // generated tokens, the stop token included
  bool finished = false;   // ended at a stop token (false: cut at max_new_tokens)
};
// Left-pads `prompts` into one batch, generates with `generation` (greedy: no randomness used) and
// decodes every row. `images`: the batch's image inputs on `device`, or undefined for text prompts.
std::vector<GreedyText> greedy_generate(model::PretrainedModel& m, const std::vector<std::vector<int64_t>>& prompts,
                                        const model::ImageInputs& images, const model::GenerationOptions& generation,
                                        const text::BpeTokenizer& tokenizer, at::Device device);

// The batches of `rank` among `ranks`: global batch k = questions [k * batch, (k + 1) * batch)
// for every k that the rank owns (k mod ranks == rank, dist/sharding.h), in order. A batch is
// answered the same whatever the rank count, so `ril eval` and the val curve do not depend on it.
std::vector<std::vector<int64_t>> eval_batches_for_rank(const std::vector<int64_t>& questions, int64_t batch,
                                                        int rank, int ranks);

}  // namespace ril::roles
