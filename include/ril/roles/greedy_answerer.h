// Greedy answers of a model to dataset questions: what `ril eval` scores and what `ril train
// --val-every` logs as the validation accuracy, so both measure the same thing.
// - Prompt: exactly as SFT builds it (SftBatchBuilder::prompt_ids: ChatML user turn with the
//   model's image placeholders for LLaVA, text only for Qwen2), left-padded.
// - Pixels: normalised as in SFT; dataset images of another size than the vision tower's are
//   resized bilinearly.
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
  // token id); throws ConfigError starting with `who` otherwise. Keeps a reference to
  // `tokenizer`, which must outlive the answerer.
  GreedyAnswerer(const text::BpeTokenizer& tokenizer, const model::ModelConfig& config, int64_t max_new_tokens,
                 const std::string& who);

  // Answers to dataset questions `ids` in one generate call (rows in the order of `ids`).
  std::vector<EvalAnswer> answer(model::PretrainedModel& model, const data::Dataset& dataset,
                                 const std::vector<int64_t>& ids, at::Device device) const;

  const model::GenerationOptions& generation() const { return generation_; }

 private:
  const text::BpeTokenizer& tokenizer_;
  bool llava_ = false;
  int64_t image_size_ = 0;
  model::GenerationOptions generation_;
  std::unique_ptr<SftBatchBuilder> builder_;
};

// The batches of `rank` among `ranks`: global batch k = questions [k * batch, (k + 1) * batch)
// for every k that the rank owns (k mod ranks == rank, dist/sharding.h), in order. A batch is
// answered the same whatever the rank count, so `ril eval` and the val curve do not depend on it.
std::vector<std::vector<int64_t>> eval_batches_for_rank(const std::vector<int64_t>& questions, int64_t batch,
                                                        int rank, int ranks);

// Pixel values of dataset images [B, 3, S, S], normalised as in SFT (sft_batch.h), resized
// bilinearly when the dataset's images are not S x S.
torch::Tensor eval_pixel_values(const data::Dataset& dataset, const std::vector<int64_t>& ids, int64_t size);

}  // namespace ril::roles
