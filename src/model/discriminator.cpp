#include "ril/model/discriminator.h"

#include <ATen/CPUGeneratorImpl.h>

#include "ril/common/error.h"

namespace ril::model {

torch::Tensor last_real_index(const torch::Tensor& attention_mask) {
  TORCH_CHECK(attention_mask.dim() == 2, "last_real_index: mask must be [B, T], got ",
              attention_mask.sizes());
  torch::Tensor m = attention_mask.to(torch::kInt64);
  RIL_CHECK(m.sum(1).gt(0).all().item<bool>(), "discriminator: a row has no real token");
  // (j + 1) * mask_j is largest at the last real j
  torch::Tensor idx1 = torch::arange(1, m.size(1) + 1, m.options()).unsqueeze(0) * m;
  return idx1.argmax(1);
}

Qwen2DiscriminatorImpl::Qwen2DiscriminatorImpl(const Qwen2Config& c) : config_(c) {
  c.validate("Qwen2Discriminator");
  model = register_module("model", Qwen2Model(c));
  score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, 1).bias(false)));
}

torch::Tensor Qwen2DiscriminatorImpl::forward(const torch::Tensor& input_ids,
                                              const torch::Tensor& attention_mask) {
  TORCH_CHECK(input_ids.dim() == 2, "discriminator: input_ids must be [B, T], got ",
              input_ids.sizes());
  torch::Tensor mask = attention_mask.defined()
      ? attention_mask.to(torch::kInt64)
      : torch::ones_like(input_ids, torch::TensorOptions().dtype(torch::kInt64));
  TORCH_CHECK(mask.sizes() == input_ids.sizes(), "discriminator: attention_mask ", mask.sizes(),
              " != input_ids ", input_ids.sizes());
  torch::Tensor hidden = model->forward(model->embed_tokens->forward(input_ids), mask);  // [B, T, D]
  torch::Tensor last = last_real_index(mask);                                           // [B]
  const int64_t d = hidden.size(2);
  torch::Tensor h = hidden.gather(1, last.view({-1, 1, 1}).expand({hidden.size(0), 1, d})).squeeze(1);
  return score->forward(h).squeeze(-1).to(torch::kFloat32);  // [B]
}

torch::Tensor Qwen2DiscriminatorImpl::probability(const torch::Tensor& input_ids,
                                                  const torch::Tensor& attention_mask) {
  return torch::sigmoid(forward(input_ids, attention_mask));
}

void Qwen2DiscriminatorImpl::init_from_student(Qwen2ForCausalLM& student, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto src = student->model->named_parameters(/*recurse=*/true);
  auto dst = model->named_parameters(/*recurse=*/true);
  RIL_CHECK(src.size() == dst.size(), "discriminator mirror init: student decoder has ",
            src.size(), " tensors, discriminator ", dst.size());
  for (auto& p : dst) {
    const torch::Tensor* s = src.find(p.key());
    RIL_CHECK(s != nullptr, "discriminator mirror init: student lacks model.", p.key());
    RIL_CHECK(s->sizes() == p.value().sizes(), "discriminator mirror init: model.", p.key(),
              " is ", p.value().sizes(), " here but ", s->sizes(), " in the student");
    p.value().copy_(*s);
  }
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor w = torch::empty(score->weight.sizes(), torch::TensorOptions().dtype(torch::kFloat32));
  w.normal_(0.0, config_.initializer_range, gen);
  score->weight.copy_(w);
}

void Qwen2DiscriminatorImpl::init_weights(uint64_t seed) {
  init_parameters(*this, config_.initializer_range, seed);
}

}  // namespace ril::model
