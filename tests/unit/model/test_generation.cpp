// Generation: KV cache against the uncached oracle, batching against single prompts, seeds,
// stop tokens, teacher-forced log-probs, LLaVA prompts with images; the discriminator; and a
// decode-throughput printout (DISABLED_ by default: run with --gtest_also_run_disabled_tests).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>

#include "model_test_util.h"
#include "ril/model/checkpoint.h"
#include "ril/model/discriminator.h"
#include "ril/model/generator.h"
#include "ril/model/llava_model.h"

namespace ril::model {
namespace {

using testing::batch_input;
using testing::left_pad;
using testing::max_abs_diff;
using testing::random_prompts;
using testing::tiny_lm;

// Sampling as the paper's teachers and rollouts do it: temperature, top-k, top-p and a penalty.
GenerationOptions sampled_options(int64_t max_new_tokens) {
  GenerationOptions o;
  o.max_new_tokens = max_new_tokens;
  o.sampling.temperature = 0.8;
  o.sampling.top_k = 50;
  o.sampling.top_p = 0.95;
  o.sampling.repetition_penalty = 1.05;
  return o;
}

TEST(Generation, CachedMatchesUncachedOracle) {
  auto lm = tiny_lm();
  GenerationOptions o;
  o.max_new_tokens = 24;
  o.sampling.do_sample = false;
  o.return_logits = true;
  auto prompts = random_prompts({4, 9, 13}, 1024, 5);
  prompts.push_back(prompts[1]);  // a repeated prompt: prefilled once with the cache (shared rows)
  auto in = batch_input(prompts);
  o.use_cache = true;
  auto cached = generate(lm, in, o, make_cpu_generator(0));
  o.use_cache = false;
  auto oracle = generate(lm, in, o, make_cpu_generator(0));
  EXPECT_TRUE(torch::equal(cached.tokens, oracle.tokens));
  const double d = max_abs_diff(cached.logits, oracle.logits);
  std::printf("[ generate  ] cached vs uncached: max |logit diff| = %.3e over %ld steps\n", d,
              static_cast<long>(cached.logits.size(1)));
  EXPECT_LE(d, 1e-5);
  EXPECT_LE(max_abs_diff(cached.logprobs, oracle.logprobs), 1e-5);
}

TEST(Generation, SampledCachedMatchesUncachedUnderTheSameSeed) {
  auto lm = tiny_lm(2);
  GenerationOptions o = sampled_options(20);
  auto in = batch_input(random_prompts({6, 2, 10, 7}, 1024, 6));
  o.use_cache = true;
  auto cached = generate(lm, in, o, make_cpu_generator(11));
  o.use_cache = false;
  auto oracle = generate(lm, in, o, make_cpu_generator(11));
  EXPECT_TRUE(torch::equal(cached.tokens, oracle.tokens));
  EXPECT_LE(max_abs_diff(cached.logprobs, oracle.logprobs), 1e-5);
}

TEST(Generation, BatchEqualsEachPromptAlone) {
  auto lm = tiny_lm(3);
  GenerationOptions o;
  o.max_new_tokens = 16;
  o.sampling.do_sample = false;
  o.sampling.repetition_penalty = 1.3;  // also checks that pads are not counted as present
  auto prompts = random_prompts({3, 12, 7, 1}, 1024, 7);
  auto batch = generate(lm, batch_input(prompts), o, make_cpu_generator(0));
  double max_lp = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto alone = generate(lm, batch_input({prompts[i]}), o, make_cpu_generator(0));
    EXPECT_TRUE(torch::equal(batch.tokens[i], alone.tokens[0])) << "prompt " << i;
    max_lp = std::max(max_lp, max_abs_diff(batch.logprobs[i], alone.logprobs[0]));
  }
  std::printf("[ generate  ] batch vs alone: max |logprob diff| = %.3e\n", max_lp);
  EXPECT_LE(max_lp, 1e-5);
}

// One generator per row (ril teach): each row of a left-padded, sampled batch (penalty, top-k/p,
// rows ending at their own stop token, a prompt repeated as a question's samples are) gives what
// it gives alone with one generator of its seed -- the batch-1 path ril teach had before.
TEST(Generation, PerRowGeneratorsBatchEqualsEachRowAlone) {
  auto lm = tiny_lm(6);
  GenerationOptions o = sampled_options(20);
  auto prompts = random_prompts({6, 11, 3, 8}, 1024, 12);
  prompts.push_back(prompts[1]);
  const std::vector<uint64_t> seeds = {21, 22, 23, 24, 25};
  auto per_row = [&] {
    std::vector<at::Generator> g;
    for (uint64_t s : seeds) g.push_back(make_cpu_generator(s));
    return SamplingGenerators(std::move(g));
  };
  // Stop at the 4th token of row 0's free run: rows end at different steps.
  const auto free_run = generate(lm, batch_input(prompts), o, per_row());
  o.stop_token_ids = {free_run.tokens[0][3].item<int64_t>()};
  o.pad_token_id = 0;
  const auto batch = generate(lm, batch_input(prompts), o, per_row());
  ASSERT_LE(batch.lengths[0].item<int64_t>(), 4);
  double max_lp = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto alone = generate(lm, batch_input({prompts[i]}), o, make_cpu_generator(seeds[i]));
    const int64_t n = alone.lengths[0].item<int64_t>();
    ASSERT_EQ(batch.lengths[static_cast<int64_t>(i)].item<int64_t>(), n) << "row " << i;
    EXPECT_TRUE(torch::equal(batch.tokens[static_cast<int64_t>(i)].narrow(0, 0, n), alone.tokens[0].narrow(0, 0, n)))
        << "row " << i;
    max_lp = std::max(max_lp, max_abs_diff(batch.logprobs[static_cast<int64_t>(i)].narrow(0, 0, n),
                                           alone.logprobs[0].narrow(0, 0, n)));
  }
  std::printf("[ generate  ] per-row generators, batch vs alone: max |logprob diff| = %.3e\n", max_lp);
  EXPECT_LE(max_lp, 1e-5);
  // Rows 1 and 4 share a prompt but not a seed: different samples.
  EXPECT_FALSE(torch::equal(batch.tokens[1], batch.tokens[4]));
}

TEST(Generation, DeterministicUnderSeed) {
  auto lm = tiny_lm(4);
  GenerationOptions o;
  o.max_new_tokens = 12;
  auto in = batch_input(random_prompts({5, 8}, 1024, 8));
  auto a = generate(lm, in, o, make_cpu_generator(100));
  torch::manual_seed(12345);  // the global RNG must not matter
  auto b = generate(lm, in, o, make_cpu_generator(100));
  auto c = generate(lm, in, o, make_cpu_generator(101));
  EXPECT_TRUE(torch::equal(a.tokens, b.tokens));
  EXPECT_TRUE(torch::equal(a.logprobs, b.logprobs));
  EXPECT_FALSE(torch::equal(a.tokens, c.tokens));
}

TEST(Generation, StopTokensEndRowsAndPadAfter) {
  auto lm = tiny_lm(5);
  GenerationOptions o;
  o.max_new_tokens = 16;
  o.sampling.do_sample = false;
  o.pad_token_id = 0;
  auto in = batch_input(random_prompts({5, 8}, 1024, 9));
  auto free_run = generate(lm, in, o, make_cpu_generator(0));
  ASSERT_EQ(free_run.tokens.size(1), 16);
  // Stop at row 0's 6th token; find where each row first emits it.
  const int64_t stop = free_run.tokens[0][5].item<int64_t>();
  o.stop_token_ids = {stop};
  auto r = generate(lm, in, o, make_cpu_generator(0));
  for (int64_t i = 0; i < 2; ++i) {
    int64_t first = 16;
    for (int64_t t = 0; t < 16; ++t) {
      if (free_run.tokens[i][t].item<int64_t>() == stop) { first = t; break; }
    }
    const int64_t expected_len = std::min<int64_t>(first + 1, 16);
    EXPECT_EQ(r.lengths[i].item<int64_t>(), expected_len) << "row " << i;
    EXPECT_TRUE(torch::equal(r.tokens[i].narrow(0, 0, expected_len),
                             free_run.tokens[i].narrow(0, 0, expected_len)));
    for (int64_t t = expected_len; t < r.tokens.size(1); ++t) {
      EXPECT_EQ(r.tokens[i][t].item<int64_t>(), 0);
      EXPECT_EQ(r.logprobs[i][t].item<float>(), 0.0f);
    }
  }
  EXPECT_EQ(r.tokens.size(1), r.lengths.max().item<int64_t>());
}

TEST(Generation, TeacherForcedLogprobsEqualGenerationLogprobs) {
  auto lm = tiny_lm(6);
  GenerationOptions o;
  o.max_new_tokens = 14;
  o.sampling.temperature = 0.7;
  o.sampling.top_k = 20;
  o.sampling.top_p = 0.9;
  o.sampling.repetition_penalty = 1.1;
  o.stop_token_ids = {7, 8, 9, 10, 11, 12};
  auto in = batch_input(random_prompts({4, 11, 6}, 1024, 10));
  auto r = generate(lm, in, o, make_cpu_generator(3));
  // Responses right-padded by length.
  auto resp_mask = (torch::arange(r.tokens.size(1)).unsqueeze(0) < r.lengths.unsqueeze(1)).to(torch::kInt64);
  TeacherForcedInput tf;
  tf.prompt_ids = in.input_ids;
  tf.prompt_mask = in.attention_mask;
  tf.response_ids = r.tokens;
  tf.response_mask = resp_mask;
  auto lp = sequence_logprobs(lm, tf);
  const double d = max_abs_diff(lp, r.logprobs);
  std::printf("[ generate  ] teacher-forced vs generation log-probs: max diff = %.3e\n", d);
  EXPECT_LE(d, 1e-5);
  // The sampled-from distribution is sharper than the policy (T = 0.7, filters).
  EXPECT_GT((r.sampling_logprobs - r.logprobs).masked_select(resp_mask.to(torch::kBool)).mean().item<double>(), 0.0);
  // Differentiable for the learner.
  TeacherForcedInput tf2 = tf;
  auto lp2 = sequence_logprobs(lm, tf2);
  lp2.sum().backward();
  EXPECT_TRUE(lm->model->embed_tokens->weight.grad().defined());
}

TEST(Generation, RejectsRightPaddedPrompts) {
  auto lm = tiny_lm();
  GenerationInput in;
  in.input_ids = torch::ones({2, 4}, torch::kInt64);
  in.attention_mask = torch::tensor({1, 1, 1, 1, 1, 1, 0, 0}, torch::kInt64).view({2, 4});
  testing::expect_error_contains([&] { generate(lm, in, GenerationOptions{}, make_cpu_generator(0)); },
                                 {"left-padded"});
}

// ---- LLaVA --------------------------------------------------------------------------------------

LlavaForConditionalGeneration tiny_llava(uint64_t seed) {
  LlavaForConditionalGeneration llava(model_preset("tiny-llava").llava);
  init_parameters(*llava, 0.1, seed);
  llava->eval();
  return llava;
}

torch::Tensor llava_prompt(const LlavaConfig& c, int64_t before, int64_t after, uint64_t seed) {
  auto parts = random_prompts({before, after}, c.text_config.vocab_size - 1, seed);
  return torch::cat({parts[0], torch::full({c.num_image_tokens()}, c.image_token_index, torch::kInt64), parts[1]});
}

TEST(Generation, LlavaCachedMatchesUncachedAndBatchMatchesAlone) {
  torch::NoGradGuard no_grad;
  auto llava = tiny_llava(7);
  const auto& c = llava->config();
  std::vector<torch::Tensor> prompts = {llava_prompt(c, 2, 5, 1), llava_prompt(c, 6, 1, 2)};
  auto pixels = torch::randn({2, 3, 64, 64}, make_cpu_generator(3));
  auto [ids, mask] = left_pad(prompts);
  GenerationOptions o;
  o.max_new_tokens = 12;
  o.sampling.do_sample = false;
  o.return_logits = true;
  auto in = llava_generation_input(llava, ids, mask, pixels);
  auto cached = generate(llava->language_model, in, o, make_cpu_generator(0));
  o.use_cache = false;
  auto oracle = generate(llava->language_model, in, o, make_cpu_generator(0));
  EXPECT_TRUE(torch::equal(cached.tokens, oracle.tokens));
  EXPECT_LE(max_abs_diff(cached.logits, oracle.logits), 1e-5);
  o.use_cache = true;
  for (int64_t i = 0; i < 2; ++i) {
    auto alone_in = llava_generation_input(llava, prompts[i].unsqueeze(0), {}, pixels[i].unsqueeze(0));
    auto alone = generate(llava->language_model, alone_in, o, make_cpu_generator(0));
    EXPECT_TRUE(torch::equal(alone.tokens[0], cached.tokens[i])) << "prompt " << i;
  }
  // The image matters.
  auto other = llava_generation_input(llava, ids, mask, torch::randn({2, 3, 64, 64}, make_cpu_generator(4)));
  auto r2 = generate(llava->language_model, other, o, make_cpu_generator(0));
  EXPECT_GT(max_abs_diff(r2.logits.select(1, 0), cached.logits.select(1, 0)), 1e-3);
}

TEST(Generation, LlavaImageTokenCountMismatchIsAnError) {
  torch::NoGradGuard no_grad;
  auto llava = tiny_llava(8);
  const auto& c = llava->config();
  auto ids = llava_prompt(c, 2, 2, 1).narrow(0, 0, 10).unsqueeze(0);  // cut image tokens short
  testing::expect_error_contains(
      [&] { llava->inputs_embeds(ids, torch::zeros({1, 3, 64, 64})); },
      {"image features and image tokens do not match", std::to_string(c.num_image_tokens())});
  testing::expect_error_contains([&] { llava->inputs_embeds(ids, torch::zeros({1, 3, 32, 32})); },
                                 {"pixel_values must be [N, 3, 64, 64]"});
}

TEST(Generation, LlavaTeacherForcedLogprobsEqualGenerationLogprobs) {
  auto llava = tiny_llava(12);
  const auto& c = llava->config();
  std::vector<torch::Tensor> prompts = {llava_prompt(c, 1, 3, 7), llava_prompt(c, 4, 2, 8)};
  auto pixels = torch::randn({2, 3, 64, 64}, make_cpu_generator(9));
  auto [ids, mask] = left_pad(prompts);
  GenerationOptions o;
  o.max_new_tokens = 10;
  o.sampling.top_k = 50;
  o.sampling.top_p = 0.95;
  o.sampling.repetition_penalty = 1.05;
  auto r = generate(llava->language_model, llava_generation_input(llava, ids, mask, pixels), o,
                    make_cpu_generator(2));
  TeacherForcedInput tf;
  tf.prompt_ids = ids;
  tf.prompt_mask = mask;
  tf.prompt_embeds = llava->inputs_embeds(ids, pixels);  // with grad: the learner's path
  tf.response_ids = r.tokens;
  tf.response_mask = (torch::arange(r.tokens.size(1)).unsqueeze(0) < r.lengths.unsqueeze(1)).to(torch::kInt64);
  auto lp = sequence_logprobs(llava->language_model, tf);
  EXPECT_LE(max_abs_diff(lp, r.logprobs), 1e-5);
  lp.sum().backward();  // gradients reach the vision tower through the merged embeddings
  EXPECT_GT(llava->vision_tower->vision_model->embeddings->patch_embedding->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(Generation, Bfloat16ModelRuns) {
  // The GPU build runs bf16 weights; here only the dtype plumbing (KV cache, norms, rotary).
  auto lm = tiny_lm(13);
  auto in = batch_input(random_prompts({4, 9}, 1024, 14));
  GenerationOptions o;
  o.max_new_tokens = 6;
  o.sampling.do_sample = false;
  o.return_logits = true;
  auto ref = generate(lm, in, o, make_cpu_generator(0));
  lm->to(torch::kBFloat16);
  auto r = generate(lm, in, o, make_cpu_generator(0));
  EXPECT_EQ(r.logits.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(r.logits).all().item<bool>());
  const double d = max_abs_diff(r.logits.select(1, 0), ref.logits.select(1, 0));
  std::printf("[ generate  ] bf16 vs f32 first-step logits: max diff = %.3e\n", d);
  EXPECT_LE(d, 0.25);
}

TEST(Generation, LlavaImageTokenOutsideTheVocabulary) {
  // HF embeds placeholder ids >= vocab_size as 0 before replacing them; the result must not
  // depend on the placeholder id.
  torch::NoGradGuard no_grad;
  auto inside = tiny_llava(9);
  LlavaConfig c = inside->config();
  c.image_token_index = c.text_config.vocab_size + 5;
  LlavaForConditionalGeneration outside(c);
  outside->eval();
  auto src = inside->named_parameters();
  for (auto& p : outside->named_parameters()) p.value().copy_(src[p.key()]);
  auto ids = llava_prompt(inside->config(), 3, 4, 5).unsqueeze(0);
  auto ids_out = ids.masked_fill(ids.eq(inside->config().image_token_index), c.image_token_index);
  auto pixels = torch::randn({1, 3, 64, 64}, make_cpu_generator(6));
  EXPECT_TRUE(torch::equal(inside->forward(ids, pixels), outside->forward(ids_out, pixels)));
}

TEST(Generation, BadShapesAreErrors) {
  auto lm = tiny_lm();
  GenerationInput in;
  in.input_ids = torch::ones({5}, torch::kInt64);
  testing::expect_error_contains([&] { generate(lm, in, GenerationOptions{}, make_cpu_generator(0)); },
                                 {"input_ids must be [B, P] int64", "[5]"});
  in.input_ids = torch::ones({2, 5}, torch::kInt64);
  in.attention_mask = torch::ones({2, 4}, torch::kInt64);
  testing::expect_error_contains([&] { generate(lm, in, GenerationOptions{}, make_cpu_generator(0)); },
                                 {"attention_mask", "[2, 4]", "[2, 5]"});
  in.attention_mask = torch::Tensor();
  in.inputs_embeds = torch::zeros({2, 3, 128});
  testing::expect_error_contains([&] { generate(lm, in, GenerationOptions{}, make_cpu_generator(0)); },
                                 {"inputs_embeds must be [2, 5, D]"});
  testing::expect_error_contains([&] { lm->model->forward(torch::zeros({2, 3, 64})); },
                                 {"inputs_embeds must be [B, T, 128]", "[2, 3, 64]"});
  GenerationOptions bad;
  bad.max_new_tokens = 0;
  in.inputs_embeds = torch::Tensor();
  testing::expect_error_contains([&] { generate(lm, in, bad, make_cpu_generator(0)); }, {"max_new_tokens"});
  TeacherForcedInput tf;
  tf.prompt_ids = torch::ones({2, 3}, torch::kInt64);
  tf.response_ids = torch::ones({3, 4}, torch::kInt64);
  testing::expect_error_contains([&] { sequence_logprobs(lm, tf); }, {"must share B", "[2, 3]", "[3, 4]"});
}

// ---- Discriminator ------------------------------------------------------------------------------

TEST(Discriminator, MirrorInitPaddingInvarianceAndGradients) {
  auto student = tiny_lm(9);
  Qwen2Discriminator disc(student->config());
  disc->init_from_student(student, 17);
  auto sp = student->model->named_parameters();
  for (const auto& p : disc->model->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), sp[p.key()])) << p.key();
  }
  std::vector<std::string> names;
  for (const auto& p : disc->named_parameters()) names.push_back(p.key());
  EXPECT_NE(std::find(names.begin(), names.end(), "score.weight"), names.end());
  EXPECT_EQ(disc->score->weight.sizes(), torch::IntArrayRef({1, 128}));

  auto prompts = random_prompts({5, 9, 2}, 1024, 12);
  // Right padding
  const int64_t t = 9;
  auto right = torch::zeros({3, t}, torch::kInt64);
  auto right_mask = torch::zeros({3, t}, torch::kInt64);
  for (int64_t i = 0; i < 3; ++i) {
    right[i].narrow(0, 0, prompts[i].size(0)).copy_(prompts[i]);
    right_mask[i].narrow(0, 0, prompts[i].size(0)).fill_(1);
  }
  auto [left, left_mask] = left_pad(prompts);
  torch::Tensor s_right, s_left;
  {
    torch::NoGradGuard no_grad;
    s_right = disc->forward(right, right_mask);
    s_left = disc->forward(left, left_mask);
    for (int64_t i = 0; i < 3; ++i) {
      auto alone = disc->forward(prompts[i].unsqueeze(0));
      EXPECT_NEAR(alone.item<float>(), s_right[i].item<float>(), 1e-5);
    }
  }
  EXPECT_LE(max_abs_diff(s_right, s_left), 1e-5);
  auto prob = disc->probability(right, right_mask);
  EXPECT_TRUE((prob > 0).all().item<bool>() && (prob < 1).all().item<bool>());
  // BCE step touches the head and the decoder.
  auto loss = torch::binary_cross_entropy_with_logits(disc->forward(right, right_mask),
                                                      torch::tensor({1.0f, 0.0f, 1.0f}));
  loss.backward();
  EXPECT_GT(disc->score->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(disc->model->layers->ptr<Qwen2DecoderLayerImpl>(0)->self_attn->q_proj->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(Discriminator, SaveLoadRoundTripAndLlavaStudent) {
  auto llava = tiny_llava(10);
  Qwen2Discriminator disc(llava->config().text_config);
  disc->init_from_student(llava->language_model, 3);
  testing::TempDir dir("disc");
  save_discriminator(disc, dir.str());
  auto loaded = load_discriminator(dir.str());
  auto ids = torch::randint(0, 1000, {2, 6}, make_cpu_generator(1), torch::kInt64);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(loaded->forward(ids), disc->forward(ids)));
}

// ---- Throughput ---------------------------------------------------------------------------------

// Where a cached decode step spends its time: decoder forward vs logits processing + sampling.
TEST(GenerationBench, DISABLED_DecodeStepBreakdown) {
  torch::NoGradGuard no_grad;
  auto lm = tiny_lm(11);
  const auto& c = lm->config();
  for (int64_t batch : {8, 32}) {
    KVCacheOptions co;
    co.num_layers = c.num_hidden_layers;
    co.batch_size = batch;
    co.num_kv_heads = c.num_key_value_heads;
    co.head_dim = c.resolved_head_dim();
    co.capacity = 16 + 64;
    KVCache cache(co);
    auto mask = torch::ones({batch, 16 + 64}, torch::kInt64);
    lm->model->forward(lm->embed(torch::ones({batch, 16}, torch::kInt64)), mask.narrow(1, 0, 16), {}, &cache);
    double t_fwd = 0, t_head = 0, t_sample = 0;
    SamplingOptions so;
    so.top_k = 50;
    so.top_p = 0.95;
    so.repetition_penalty = 1.05;
    Sampler sampler(so, make_cpu_generator(0));
    auto presence = torch::zeros({batch, c.vocab_size}, torch::kBool);
    auto next = torch::ones({batch}, torch::kInt64);
    for (int64_t step = 0; step < 64; ++step) {
      auto t0 = std::chrono::steady_clock::now();
      auto h = lm->model->forward(lm->embed(next.unsqueeze(1)), mask.narrow(1, 0, 16 + step + 1), {}, &cache);
      auto t1 = std::chrono::steady_clock::now();
      auto logits = lm->logits(h.select(1, 0));
      auto t2 = std::chrono::steady_clock::now();
      next = sampler.select(process_logits(logits, presence, so));
      auto t3 = std::chrono::steady_clock::now();
      t_fwd += std::chrono::duration<double>(t1 - t0).count();
      t_head += std::chrono::duration<double>(t2 - t1).count();
      t_sample += std::chrono::duration<double>(t3 - t2).count();
    }
    std::printf("[ bench     ] batch %ld, per step: decoder %.2f ms, lm_head %.2f ms, process+sample %.2f ms\n",
                static_cast<long>(batch), t_fwd / 64 * 1e3, t_head / 64 * 1e3, t_sample / 64 * 1e3);
  }
}

TEST(GenerationBench, DISABLED_DecodeTokensPerSecond) {
  auto lm = tiny_lm(11);
  for (int64_t batch : {8, 32}) {
    std::vector<int64_t> lengths(batch);
    for (int64_t i = 0; i < batch; ++i) lengths[i] = 12 + (i * 5) % 9;  // 12..20
    auto in = batch_input(random_prompts(lengths, 1024, 13));
    GenerationOptions o;
    o.max_new_tokens = 64;
    o.sampling.temperature = 1.0;
    o.sampling.top_k = 50;
    o.sampling.top_p = 0.95;
    o.sampling.repetition_penalty = 1.05;
    for (bool cached : {true, false}) {
      o.use_cache = cached;
      generate(lm, in, o, make_cpu_generator(0));  // warm-up
      const auto t0 = std::chrono::steady_clock::now();
      auto r = generate(lm, in, o, make_cpu_generator(1));
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double tokens = r.lengths.sum().item<double>();
      std::printf("[ bench     ] tiny (%.2fM params) batch %ld, 64 new tokens, %s: %.0f tokens/s (%.3f s)\n",
                  [&] { double n = 0; for (auto& p : lm->parameters()) n += p.numel(); return n / 1e6; }(),
                  static_cast<long>(batch), cached ? "KV cache" : "uncached", tokens / s, s);
    }
  }
}

}  // namespace
}  // namespace ril::model
