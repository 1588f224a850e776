// Activation checkpointing (model/activation_checkpoint.h): the parameter gradients of a tiny
// Qwen2 causal LM (tied embeddings, left padding) and of a Qwen2.5-VL-shaped decoder (M-RoPE
// positions [3, B, T]) with --checkpoint-activations equal those of the plain path.
//
// Tolerance: every layer recomputes its forward on the same values with the same CPU kernels,
// so each layer's gradients are bitwise equal; what may differ is the order in which the
// autograd engine adds contributions into a tensor used in several places (the tied embedding
// matrix: input embedding and LM head; the hidden state's residual branches). Float32 addition
// in another order differs by a few ulps: we require max |difference| <= 1e-6 x max |gradient|
// per tensor and print the largest relative difference seen (0 when bitwise equal; on this
// CPU build all three cases are bitwise equal).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <vector>

#include "ril/model/activation_checkpoint.h"
#include "ril/model/discriminator.h"
#include "ril/model/model_config.h"
#include "ril/model/qwen2_decoder.h"

namespace ril::model {
namespace {

std::vector<torch::Tensor> gradients(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) {
    out.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
    p.mutable_grad() = torch::Tensor();
  }
  return out;
}

void expect_equal_gradients(const std::vector<torch::Tensor>& plain, const std::vector<torch::Tensor>& ckpt,
                            const std::string& what) {
  ASSERT_EQ(plain.size(), ckpt.size());
  double worst = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    // (a parameter outside the graph, e.g. embed_tokens when inputs_embeds are given, has none on both)
    ASSERT_EQ(plain[i].defined(), ckpt[i].defined()) << what << ": parameter " << i << " has a gradient on one path only";
    if (!plain[i].defined()) continue;
    const double scale = plain[i].abs().max().item<double>();
    const double diff = (plain[i] - ckpt[i]).abs().max().item<double>();
    EXPECT_LE(diff, 1e-6 * scale) << what << ": parameter " << i << " (max |g| " << scale << ")";
    if (scale > 0) worst = std::max(worst, diff / scale);
  }
  std::cout << "[ checkpoint ] " << what << ": max |g_ckpt - g_plain| / max |g| = " << worst << "\n";
}

Qwen2Config tiny_config() {
  Qwen2Config c;  // the tiny preset's shape: 128 hidden, 4 layers, tied embeddings
  c.num_hidden_layers = 3;
  return c;
}

TEST(ActivationCheckpoint, CausalLmGradientsEqualThePlainPath) {
  Qwen2ForCausalLM lm(tiny_config());
  lm->init_weights(3);
  lm->train();
  torch::manual_seed(5);
  const torch::Tensor ids = torch::randint(0, lm->config().vocab_size, {3, 17}, torch::kInt64);
  torch::Tensor mask = torch::ones({3, 17}, torch::kInt64);
  mask.index_put_({1, torch::indexing::Slice(0, 5)}, 0);  // a left-padded row
  const torch::Tensor weights = torch::randn({3, 17, lm->config().vocab_size});
  auto loss = [&] { return (torch::log_softmax(lm->forward(ids, mask), -1) * weights).sum(); };

  const torch::Tensor plain_loss = loss();
  plain_loss.backward();
  const std::vector<torch::Tensor> plain = gradients(*lm);

  lm->model->set_checkpoint_activations(true);
  const torch::Tensor ckpt_loss = loss();
  ckpt_loss.backward();
  const std::vector<torch::Tensor> ckpt = gradients(*lm);
  EXPECT_EQ(plain_loss.item<double>(), ckpt_loss.item<double>()) << "the forward is the same computation";
  expect_equal_gradients(plain, ckpt, "tiny causal LM");

  // No grad (generation, the reference policy): the plain path, nothing recorded.
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(lm->forward(ids, mask).requires_grad());
}

TEST(ActivationCheckpoint, MropeDecoderAndDiscriminatorGradientsEqualThePlainPath) {
  Qwen2Config c = tiny_config();
  c.mrope_section = {4, 6, 6};  // head_dim 32: 16 frequencies
  Qwen2Model decoder(c);
  init_parameters(*decoder, 0.02, 9);
  torch::manual_seed(6);
  const torch::Tensor embeds = torch::randn({2, 11, c.hidden_size}, torch::requires_grad());
  const torch::Tensor pos = torch::randint(0, 20, {3, 2, 11}, torch::kInt64);
  const torch::Tensor target = torch::randn({2, 11, c.hidden_size});
  auto run = [&] {
    (decoder->forward(embeds, {}, pos) * target).sum().backward();
    std::vector<torch::Tensor> g = gradients(*decoder);
    g.push_back(embeds.grad().clone());  // the gradient that leaves the decoder (vision tower, embeddings)
    embeds.mutable_grad() = torch::Tensor();
    return g;
  };
  const std::vector<torch::Tensor> plain = run();
  decoder->set_checkpoint_activations(true);
  expect_equal_gradients(plain, run(), "M-RoPE decoder (and d loss / d inputs_embeds)");

  Qwen2Discriminator disc(tiny_config());
  disc->init_weights(4);
  const torch::Tensor ids = torch::randint(0, 1024, {4, 9}, torch::kInt64);
  auto disc_run = [&] {
    torch::binary_cross_entropy_with_logits(disc->forward(ids), torch::tensor({1.0F, 0.0F, 1.0F, 0.0F})).backward();
    return gradients(*disc);
  };
  const std::vector<torch::Tensor> disc_plain = disc_run();
  disc->model->set_checkpoint_activations(true);
  expect_equal_gradients(disc_plain, disc_run(), "discriminator");
}

TEST(ActivationCheckpoint, FunctionKeepsOnlyItsInputAndRecomputes) {
  // checkpointed() on a function with a parameter: the output needs grad, the parameter's
  // gradient arrives in backward, and the function runs twice (forward, recompute).
  torch::Tensor w = torch::full({3}, 2.0, torch::requires_grad());
  int calls = 0;
  const LayerFunction fn = [&](const torch::Tensor& x) {
    ++calls;
    return (x * w).sin();
  };
  const torch::Tensor x = torch::tensor({0.1F, 0.2F, 0.3F}, torch::requires_grad());
  const torch::Tensor y = checkpointed(fn, x);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(calls, 1);
  y.sum().backward();
  EXPECT_EQ(calls, 2);
  const torch::Tensor expect_w = (x.detach() * 2.0).cos() * x.detach();
  const torch::Tensor expect_x = (x.detach() * 2.0).cos() * 2.0;
  EXPECT_TRUE(torch::allclose(w.grad(), expect_w, 1e-6, 1e-7)) << w.grad();
  EXPECT_TRUE(torch::allclose(x.grad(), expect_x, 1e-6, 1e-7)) << x.grad();
}

}  // namespace
}  // namespace ril::model
