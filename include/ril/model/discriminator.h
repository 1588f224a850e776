// Discriminator D (DESIGN.md section 1): the student's decoder with its LM head replaced by a
// linear head d -> 1 (no bias) on the final hidden state of the last real token; D(o) =
// sigmoid(score). Names match HF Qwen2ForSequenceClassification with num_labels = 1:
//   model.*  (as Qwen2ForCausalLM), score.weight [1, D]
// Mirror init: decoder weights copied from the student (text decoder of a LLaVA student).
#pragma once

#include <torch/torch.h>

#include "ril/model/qwen2_decoder.h"

namespace ril::model {

class Qwen2DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit Qwen2DiscriminatorImpl(const Qwen2Config& config);

  // input_ids [B, T] int64, attention_mask [B, T] 0/1 (left or right padding; undefined = all
  // real) -> score logits [B] float32 (pre-sigmoid), taken at the last position whose mask is 1.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});
  // sigmoid(forward(...)) [B]: probability that the response is the student's (label 1).
  torch::Tensor probability(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});

  // Mirror init: copies every model.* tensor of `student` (configs must match: error otherwise)
  // and draws score.weight ~ N(0, initializer_range) from `seed`.
  void init_from_student(Qwen2ForCausalLM& student, uint64_t seed);
  // Random init of everything (tests).
  void init_weights(uint64_t seed);
  const Qwen2Config& config() const { return config_; }

  Qwen2Model model{nullptr};
  torch::nn::Linear score{nullptr};

 private:
  Qwen2Config config_;
};
TORCH_MODULE(Qwen2Discriminator);

// Index of the last real token per row: mask [B, T] -> [B] int64 (works for left and right
// padding). Throws for a row without a real token.
torch::Tensor last_real_index(const torch::Tensor& attention_mask);

}  // namespace ril::model
