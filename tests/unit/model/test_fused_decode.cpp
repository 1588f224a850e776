// The one-token decode step (fused_decode.h, decode_kernels.h): kernels against their ATen twins,
// generation through the fused step against the generic cached forward and the uncached oracle
// (Qwen2, M-RoPE Qwen2.5-VL, dynamic-RoPE InternVL3), and fused weight copies that follow the
// parameters through an optimizer step, a weight-sync-style write (inside InferenceMode, where
// the autograd version counter is not bumped), a load, a raw-pointer write, a dtype change, while
// the HF-named parameters stay what they were.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <c10/core/InferenceMode.h>

#include <cctype>

#include "model_test_util.h"
#include "ril/model/decode_kernels.h"
#include "ril/model/fused_decode.h"
#include "ril/model/generator.h"
#include "ril/model/pretrained_model.h"

namespace ril::model {
namespace {

using testing::left_pad;
using testing::max_abs_diff;

using testing::tiny_lm;

GenerationInput random_batch(const std::vector<int64_t>& lengths, uint64_t seed) {
  return testing::batch_input(testing::random_prompts(lengths, 1024, seed));
}

// ---- kernels against their ATen twins -----------------------------------------------------------

TEST(DecodeKernels, RmsNormMatchesTheModuleAndTheAtenTwin) {
  at::Generator gen = make_cpu_generator(1);
  const torch::Tensor big = torch::randn({7, 200}, gen) * 3.0;
  const torch::Tensor x = big.narrow(1, 10, 128);  // strided rows
  RMSNorm module(RMSNormOptions(128).eps(1e-6));
  {
    torch::NoGradGuard no_grad;
    module->weight.copy_(torch::randn({128}, gen));
  }
  const torch::Tensor ref = module->forward(x).detach();
  const torch::Tensor got = rms_norm_rows(x, module->weight.detach(), 1e-6);
  const double d = max_abs_diff(got, ref);
  std::printf("[ kernels   ] rms_norm_rows vs RMSNorm: max diff %.3e\n", d);
  EXPECT_LE(d, 1e-5);
  EXPECT_LE(max_abs_diff(rms_norm_rows_aten(x, module->weight.detach(), 1e-6), ref), 0.0);
  const torch::Tensor xb = x.to(torch::kBFloat16), wb = module->weight.detach().to(torch::kBFloat16);
  EXPECT_LE(max_abs_diff(rms_norm_rows(xb, wb, 1e-6), rms_norm_rows_aten(xb, wb, 1e-6)), 0.07);
}

// q/k/v as strided views of one projection output, caches holding `past` positions, a prompt
// mask with pads; both implementations on copies of the same caches.
void check_attention(torch::ScalarType dtype, int64_t heads, int64_t kv_heads, double tol, int64_t dh = 16) {
  at::Generator gen = make_cpu_generator(2);
  const int64_t b = 3, past = 9, cap = 12, p = 6;
  const int64_t n = (heads + 2 * kv_heads) * dh;
  const torch::Tensor qkv = torch::randn({b, n + 5}, gen).to(dtype);
  DecodeAttentionInput in;
  in.q = qkv.narrow(1, 0, heads * dh);
  in.k = qkv.narrow(1, heads * dh, kv_heads * dh);
  in.v = qkv.narrow(1, (heads + kv_heads) * dh, kv_heads * dh);
  auto [cos, sin] = rotary_cos_sin(torch::arange(0, 40, torch::kInt64).unsqueeze(0), dh, 10000.0);
  in.cos_table = cos.squeeze(0).to(dtype).contiguous();
  in.sin_table = sin.squeeze(0).to(dtype).contiguous();
  in.table_rows = torch::tensor({3, 0, 11}, torch::kInt64);
  in.step = 5;
  in.past = past;
  in.prompt_mask = torch::tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1}, torch::kInt64).view({b, p});
  in.num_heads = heads;
  in.num_kv_heads = kv_heads;
  in.head_dim = dh;
  const torch::Tensor keys = torch::randn({b, kv_heads, cap, dh}, gen).to(dtype);
  const torch::Tensor values = torch::randn({b, kv_heads, cap, dh}, gen).to(dtype);
  DecodeAttentionInput twin = in;
  in.key_cache = keys.clone();
  in.value_cache = values.clone();
  twin.key_cache = keys.clone();
  twin.value_cache = values.clone();
  const torch::Tensor got = decode_attention(in);
  const torch::Tensor ref = decode_attention_aten(twin);
  const double d = max_abs_diff(got, ref);
  std::printf("[ kernels   ] decode_attention vs ATen (%s, %ld/%ld heads, head dim %ld): max diff %.3e\n",
              c10::toString(dtype), static_cast<long>(heads), static_cast<long>(kv_heads), static_cast<long>(dh), d);
  EXPECT_LE(d, tol);
  EXPECT_LE(max_abs_diff(in.key_cache, twin.key_cache), tol);
  EXPECT_TRUE(torch::equal(in.value_cache, twin.value_cache));
  // Only position `past` was written.
  EXPECT_TRUE(torch::equal(in.key_cache.narrow(2, 0, past), keys.narrow(2, 0, past)));
  EXPECT_TRUE(torch::equal(in.key_cache.narrow(2, past + 1, cap - past - 1), keys.narrow(2, past + 1, cap - past - 1)));
}

TEST(DecodeKernels, AttentionMatchesTheAtenTwin) {
  check_attention(torch::kFloat32, 4, 2, 1e-6);
  check_attention(torch::kFloat32, 3, 3, 1e-6);
  check_attention(torch::kFloat32, 6, 1, 1e-6);
  check_attention(torch::kFloat32, 4, 2, 1e-6, /*dh=*/10);  // tails of the 4- and 8-wide loops
  check_attention(torch::kBFloat16, 4, 2, 0.05);
}

// ---- generation: fused step vs generic cached forward vs uncached oracle -----------------------

struct Paths {
  GenerationResult fused, fused_aten, separate, generic, oracle;
};

Paths all_paths(Qwen2ForCausalLM& lm, const GenerationInput& in, GenerationOptions o, uint64_t seed) {
  Paths r;
  o.return_logits = true;
  r.fused = generate(lm, in, o, make_cpu_generator(seed));
  GenerationOptions a = o;
  a.fused_decode_options.cpu_kernels = false;
  r.fused_aten = generate(lm, in, a, make_cpu_generator(seed));
  GenerationOptions s = o;
  s.fused_decode_options.max_fused_weight_bytes = 0;  // separate GEMMs on the parameters
  r.separate = generate(lm, in, s, make_cpu_generator(seed));
  o.fused_decode = false;
  r.generic = generate(lm, in, o, make_cpu_generator(seed));
  o.use_cache = false;
  r.oracle = generate(lm, in, o, make_cpu_generator(seed));
  return r;
}

// float32 logits of magnitude ~10 (init std 0.1): the generic cached path itself differs from the
// uncached oracle by up to ~1e-5 (a few ulps) on these seeds.
void expect_same(const GenerationResult& got, const GenerationResult& ref, const char* what, double tol = 3e-5) {
  EXPECT_TRUE(torch::equal(got.tokens, ref.tokens)) << what << "\n" << got.tokens << "\n" << ref.tokens;
  EXPECT_TRUE(torch::equal(got.lengths, ref.lengths)) << what;
  const double d = max_abs_diff(got.logits, ref.logits);
  std::printf("[ fused     ] %s: max |logit diff| %.3e\n", what, d);
  EXPECT_LE(d, tol) << what;
  EXPECT_LE(max_abs_diff(got.logprobs, ref.logprobs), tol) << what;
  EXPECT_LE(max_abs_diff(got.sampling_logprobs, ref.sampling_logprobs), tol) << what;
}

void expect_all_paths_agree(const Paths& r) {
  expect_same(r.fused, r.oracle, "fused (kernels) vs uncached oracle");
  expect_same(r.fused_aten, r.oracle, "fused (ATen twins) vs uncached oracle");
  expect_same(r.separate, r.oracle, "fused (separate GEMMs) vs uncached oracle");
  expect_same(r.generic, r.oracle, "generic cached vs uncached oracle");
  expect_same(r.fused, r.generic, "fused (kernels) vs generic cached");
  // Each result says which step served it: the fused step really ran (no silent fallback).
  for (const GenerationResult* g : {&r.fused, &r.fused_aten, &r.separate}) {
    EXPECT_EQ(g->decode_path, DecodePath::kFused) << decode_path_name(g->decode_path);
  }
  EXPECT_EQ(r.generic.decode_path, DecodePath::kGeneric);
  EXPECT_EQ(r.oracle.decode_path, DecodePath::kUncached);
}

TEST(FusedDecode, GreedyLeftPaddedBatchEqualsEveryOtherPath) {
  auto lm = tiny_lm(21);
  GenerationOptions o;
  o.max_new_tokens = 20;
  o.sampling.do_sample = false;
  expect_all_paths_agree(all_paths(lm, random_batch({3, 11, 7, 1, 9}, 22), o, 0));
}

TEST(FusedDecode, SampledWithPenaltyAndStopTokensEqualsEveryOtherPath) {
  auto lm = tiny_lm(23);
  GenerationOptions o;
  o.max_new_tokens = 18;
  o.sampling.temperature = 0.9;
  o.sampling.top_k = 40;
  o.sampling.top_p = 0.95;
  o.sampling.repetition_penalty = 1.1;
  o.stop_token_ids = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  const Paths r = all_paths(lm, random_batch({6, 2, 10, 7}, 24), o, 31);
  expect_all_paths_agree(r);
  EXPECT_LT(r.fused.lengths.min().item<int64_t>(), 18) << "no row stopped: the stop path is untested";
}

TEST(FusedDecode, GreedyWithoutStopTokensReportsFullLengths) {
  auto lm = tiny_lm(25);
  GenerationOptions o;
  o.max_new_tokens = 9;
  o.sampling.do_sample = false;
  const GenerationResult r = generate(lm, random_batch({4, 2}, 26), o, make_cpu_generator(0));
  EXPECT_TRUE(torch::equal(r.lengths, torch::full({2}, 9, torch::kInt64)));
  EXPECT_TRUE(torch::equal(r.logprobs, r.sampling_logprobs));
  EXPECT_TRUE((r.logprobs < 0).all().item<bool>());
}

TEST(FusedDecode, Bfloat16StaysCloseToTheGenericPath) {
  auto lm = tiny_lm(27);
  lm->to(torch::kBFloat16);
  GenerationOptions o;
  o.max_new_tokens = 6;
  o.sampling.do_sample = false;
  o.return_logits = true;
  const GenerationInput in = random_batch({5, 9}, 28);
  const GenerationResult fused = generate(lm, in, o, make_cpu_generator(0));
  o.fused_decode = false;
  const GenerationResult generic = generate(lm, in, o, make_cpu_generator(0));
  // Same first token (the prefill is shared); later steps within bf16 rounding.
  EXPECT_TRUE(torch::equal(fused.tokens.select(1, 0), generic.tokens.select(1, 0)));
  const double d = max_abs_diff(fused.logits.select(1, 1), generic.logits.select(1, 1));
  std::printf("[ fused     ] bf16 fused vs generic, second-step logits: max diff %.3e\n", d);
  EXPECT_LE(d, 0.1);
}

TEST(FusedDecode, UnsupportedDtypeFallsBackToTheGenericStepAndSaysSo) {
  // float64 is outside FusedDecoder::supports: generate() takes the generic cached forward.
  auto lm = tiny_lm(29);
  lm->to(torch::kFloat64);
  GenerationOptions o;
  o.max_new_tokens = 8;
  o.sampling.do_sample = false;
  o.return_logits = true;
  const GenerationInput in = random_batch({4, 7}, 30);
  const GenerationResult got = generate(lm, in, o, make_cpu_generator(0));
  EXPECT_EQ(got.decode_path, DecodePath::kGeneric) << decode_path_name(got.decode_path);
  EXPECT_FALSE(lm->fused_weight_cache) << "no fused copies for a model the fused step does not serve";
  o.use_cache = false;
  const GenerationResult oracle = generate(lm, in, o, make_cpu_generator(0));
  // Logits leave generate() as float32 (last_logits): float32 rounding, as for the other paths.
  expect_same(got, oracle, "float64 fallback (generic cached) vs uncached oracle");
}

// ---- fused weight copies follow the parameters --------------------------------------------------

GenerationResult greedy(Qwen2ForCausalLM& lm, const GenerationInput& in, bool use_cache) {
  GenerationOptions o;
  o.max_new_tokens = 12;
  o.sampling.do_sample = false;
  o.return_logits = true;
  o.use_cache = use_cache;
  return generate(lm, in, o, make_cpu_generator(0));
}

std::vector<std::string> parameter_names(torch::nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters(/*recurse=*/true)) names.push_back(p.key());
  return names;
}

TEST(FusedDecode, FusedWeightsFollowOptimizerStepsWeightSyncsLoadsAndDtypeChanges) {
  auto lm = tiny_lm(41);
  const std::vector<std::string> names = parameter_names(*lm);
  const size_t buffers = lm->named_buffers().size();
  const GenerationInput in = random_batch({6, 3, 8}, 42);

  expect_same(greedy(lm, in, true), greedy(lm, in, false), "fresh model");
  ASSERT_TRUE(lm->fused_weight_cache) << "the tiny model should use fused weight copies";
  const FusedWeightCache* first = lm->fused_weight_cache.get();
  greedy(lm, in, true);
  EXPECT_EQ(lm->fused_weight_cache.get(), first) << "same shapes: the copy buffers are reused";

  // 1. An AdamW step (the learner): in-place updates of every parameter.
  {
    lm->train();
    torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(/*lr=*/0.05));
    TeacherForcedInput tf;
    tf.prompt_ids = in.input_ids;
    tf.prompt_mask = in.attention_mask;
    tf.response_ids = torch::randint(3, 1024, {3, 5}, make_cpu_generator(43), torch::kInt64);
    opt.zero_grad();
    (-sequence_logprobs(lm, tf).sum()).backward();
    opt.step();
    lm->eval();
  }
  const GenerationResult after_step = greedy(lm, in, true);
  expect_same(after_step, greedy(lm, in, false), "after an AdamW step");

  // 2. A dist::WeightSync-style receive: bytes copied into byte views of detached parameters,
  //    under InferenceMode, where this write leaves the parameters' version counters unchanged.
  {
    c10::InferenceMode guard;
    at::Generator gen = make_cpu_generator(44);
    for (auto& p : lm->named_parameters(/*recurse=*/true)) {
      if (p.key().find("mlp.up_proj") == std::string::npos && p.key().find("k_proj.bias") == std::string::npos) continue;
      const torch::Tensor fresh = torch::randn(p.value().sizes(), gen) * 0.3;
      const int64_t version = p.value()._version();
      p.value().detach().view(-1).view(torch::kByte).copy_(fresh.view(-1).view(torch::kByte));
      EXPECT_EQ(p.value()._version(), version) << "LibTorch now bumps the counter here: update this comment";
    }
  }
  const GenerationResult after_sync = greedy(lm, in, true);
  expect_same(after_sync, greedy(lm, in, false), "after a weight-sync-style write");
  EXPECT_GT(max_abs_diff(after_sync.logits.select(1, 0), after_step.logits.select(1, 0)), 1e-3);

  // 3. A checkpoint load: copy_ of every parameter from another model's (io::load_tensors_into).
  {
    auto other = tiny_lm(45);
    torch::NoGradGuard no_grad;
    auto src = other->named_parameters(/*recurse=*/true);
    for (auto& p : lm->named_parameters(/*recurse=*/true)) p.value().copy_(src[p.key()]);
    expect_same(greedy(lm, in, true), greedy(other, in, false), "after loading another model's weights");
  }

  // 4. A write through a raw pointer (MPI into data_ptr(), memcpy).
  {
    torch::NoGradGuard no_grad;
    torch::Tensor w = lm->model->layers->ptr<Qwen2DecoderLayerImpl>(1)->mlp->gate_proj->weight;
    float* data = w.data_ptr<float>();
    for (int64_t i = 0; i < w.numel(); ++i) data[i] = -data[i];
    expect_same(greedy(lm, in, true), greedy(lm, in, false), "after a raw-pointer write");
  }

  // 5. A dtype change gives the parameters new storage.
  lm->to(torch::kFloat64);
  lm->to(torch::kFloat32);
  expect_same(greedy(lm, in, true), greedy(lm, in, false), "after .to(float64).to(float32)");

  // The HF-named parameters are all there is: no fused tensor became a parameter or buffer.
  EXPECT_EQ(parameter_names(*lm), names);
  EXPECT_EQ(lm->named_buffers().size(), buffers);
  release_fused_weights(lm);
  EXPECT_FALSE(lm->fused_weight_cache);
  expect_same(greedy(lm, in, true), greedy(lm, in, false), "after release_fused_weights");
}

// ---- VLM decoders: M-RoPE (Qwen2.5-VL) and dynamic RoPE (InternVL3) -----------------------------

class FusedVlm : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedVlm, FusedEqualsGenericAndOracleWithImages) {
  torch::NoGradGuard no_grad;
  PretrainedModel m = PretrainedModel::create(model_preset(GetParam()), 3);
  m.module().eval();
  std::vector<uint8_t> px(static_cast<size_t>(48 * 80 * 3));
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 29 + i / 7) % 256);
  const ImageInputs image = m.preprocess_images({rgb_image(48, 80, std::move(px))});
  std::vector<int64_t> with_image = {11, 12, 13};
  with_image.insert(with_image.end(), static_cast<size_t>(image.tokens.at(0)), m.image_token_id());
  with_image.insert(with_image.end(), {14, 15});
  auto [ids, mask] = left_pad({torch::tensor(with_image, torch::kInt64), torch::arange(40, 47, torch::kInt64)});
  const GenerationInput in = m.generation_input(ids, mask, image);
  GenerationOptions o;
  o.max_new_tokens = 10;
  o.sampling.do_sample = false;
  expect_all_paths_agree(all_paths(m.language_model(), in, o, 0));
}

INSTANTIATE_TEST_SUITE_P(Presets, FusedVlm, ::testing::Values("tiny-qwen2.5-vl", "tiny-internvl3"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return s;
                         });

TEST(FusedDecode, DynamicRopeRefusesPositionsBeyondTheTrainedRangeLikeTheGenericPath) {
  torch::NoGradGuard no_grad;
  ModelConfig c = model_preset("tiny-internvl3");
  c.internvl.text_config.max_position_embeddings = 16;
  PretrainedModel m = PretrainedModel::create(c, 1);
  GenerationOptions o;
  o.max_new_tokens = 8;
  o.sampling.do_sample = false;
  const torch::Tensor ids = torch::arange(20, 32, torch::kInt64).unsqueeze(0);  // positions 0..11
  for (bool fused : {true, false}) {
    o.fused_decode = fused;
    testing::expect_error_contains([&] { m.generate(ids, torch::Tensor(), ImageInputs(), o, make_cpu_generator(0)); },
                                   {"position 16", "max_position_embeddings", "dynamic"});
    o.max_new_tokens = 5;  // last fed token at position 15: fine
    EXPECT_NO_THROW(m.generate(ids, torch::Tensor(), ImageInputs(), o, make_cpu_generator(0)));
    o.max_new_tokens = 8;
  }
}

}  // namespace
}  // namespace ril::model
