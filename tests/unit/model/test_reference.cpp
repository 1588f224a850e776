// The C++ models against independent implementations:
//   model/ref_qwen2, model/ref_llava: tests/tools/model_reference.py (float64 math, HF names;
//       ref_llava uses transformers 5.x names and config keys)
// (What HF transformers itself computed is checked in test_hf_fixtures.cpp.)
// Each case: logits of every prompt alone and in a left-padded batch (max |diff| <= 1e-4,
// printed), and 32 greedy tokens from the batched cached generator and the uncached oracle.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model_test_util.h"
#include "ril/common/error.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/model/safetensors.h"

namespace ril::model {
namespace {

using testing::fixtures_dir;
using testing::left_pad;
using testing::max_abs_diff;

constexpr double kLogitTolerance = 1e-4;  // float32 C++ vs float64 (or float32 HF) reference

struct ReferenceCase {
  std::string dir;
  int64_t num_prompts = 0;
  int64_t greedy_new_tokens = 0;
  TensorMap data;
};

ReferenceCase read_case(const std::string& dir) {
  ReferenceCase c;
  c.dir = dir;
  std::ifstream in(dir + "/reference.json");
  nlohmann::json j;
  in >> j;
  const int version = j.at("format_version").get<int>();
  if (version != 1) {
    throw ril::Error(ril::cat(dir, "/reference.json: format_version ", version,
                    " (this test reads 1): regenerate with ", j.value("regenerate", "?")));
  }
  c.num_prompts = j.at("num_prompts").get<int64_t>();
  c.greedy_new_tokens = j.at("greedy_new_tokens").get<int64_t>();
  for (auto& [name, t] : read_safetensors(dir + "/reference.safetensors")) c.data[name] = t.clone();
  return c;
}

std::string key(const char* what, int64_t i) { return std::string(what) + "." + std::to_string(i); }

// Runs every check on one fixture directory.
void check_case(const std::string& dir) {
  SCOPED_TRACE(dir);
  torch::NoGradGuard no_grad;
  ReferenceCase rc = read_case(dir);
  PretrainedModel m = load_pretrained(dir);
  const bool llava = m.config.kind == ModelKind::kLlava;
  Qwen2ForCausalLM& lm = m.language_model();
  lm->eval();

  std::vector<torch::Tensor> prompts, pixels, embeds_alone;
  for (int64_t i = 0; i < rc.num_prompts; ++i) {
    prompts.push_back(rc.data.at(key("input_ids", i)));
    if (llava) pixels.push_back(rc.data.at(key("pixel_values", i)));
  }

  // (1) every prompt alone, uncached full forward
  double max_alone = 0;
  for (int64_t i = 0; i < rc.num_prompts; ++i) {
    torch::Tensor ids = prompts[i].unsqueeze(0);
    torch::Tensor logits = llava ? m.llava->forward(ids, pixels[i]) : lm->forward(ids);
    const double d = max_abs_diff(logits.squeeze(0), rc.data.at(key("logits", i)));
    max_alone = std::max(max_alone, d);
  }
  std::printf("[ reference ] %s: max |logit diff| prompts alone = %.3e\n", dir.c_str(), max_alone);
  EXPECT_LE(max_alone, kLogitTolerance);

  // (2) all prompts in one left-padded batch
  auto [ids, mask] = left_pad(prompts);
  const int64_t p = ids.size(1);
  torch::Tensor embeds;
  if (llava) {
    embeds = m.llava->inputs_embeds(ids, torch::cat(pixels, 0));
  } else {
    embeds = lm->embed(ids);
  }
  torch::Tensor logits = lm->logits(lm->model->forward(embeds, mask));  // [B, P, V]
  double max_batch = 0;
  for (int64_t i = 0; i < rc.num_prompts; ++i) {
    const int64_t n = prompts[i].size(0);
    max_batch = std::max(max_batch, max_abs_diff(logits[i].narrow(0, p - n, n), rc.data.at(key("logits", i))));
  }
  std::printf("[ reference ] %s: max |logit diff| left-padded batch = %.3e\n", dir.c_str(), max_batch);
  EXPECT_LE(max_batch, kLogitTolerance);

  // (3) greedy continuation: batched; fused step, generic cached forward, uncached oracle
  GenerationOptions go;
  go.max_new_tokens = rc.greedy_new_tokens;
  go.sampling.do_sample = false;
  GenerationInput gi;
  gi.input_ids = ids;
  gi.attention_mask = mask;
  gi.inputs_embeds = embeds;
  for (const DecodePath path : {DecodePath::kFused, DecodePath::kGeneric, DecodePath::kUncached}) {
    go.use_cache = path != DecodePath::kUncached;
    go.fused_decode = path == DecodePath::kFused;
    GenerationResult r = generate(lm, gi, go, make_cpu_generator(0));
    EXPECT_EQ(r.decode_path, path) << decode_path_name(r.decode_path);
    for (int64_t i = 0; i < rc.num_prompts; ++i) {
      torch::Tensor expected = rc.data.at(key("greedy", i));
      EXPECT_TRUE(torch::equal(r.tokens[i], expected))
          << decode_path_name(path) << " prompt " << i << "\n  got      "
          << r.tokens[i] << "\n  expected " << expected;
    }
  }
}

TEST(ModelReference, PythonReferenceQwen2) { check_case(fixtures_dir() + "/ref_qwen2"); }

TEST(ModelReference, PythonReferenceLlava) { check_case(fixtures_dir() + "/ref_llava"); }

// Issue 3's bf16 check at real size: a Qwen2-0.5B config with HF's random init, made by
// tests/tools/make_hf_bf16_case.py on a CUDA machine (RIL_HF_BF16_DIR=<its --out>; skipped
// otherwise: 1 GB of weights is not a repository fixture). bf16 logits of ours and of HF are both
// compared with HF's fp32 logits of the same weights; ours must be as close as HF's own bf16 run
// (x1.5 + 0.01 slack) and agree on the fp32 greedy continuation.
TEST(ModelReference, HuggingFaceBf16Qwen2_0_5B) {
  const char* dir_env = std::getenv("RIL_HF_BF16_DIR");
  if (!dir_env) GTEST_SKIP() << "set RIL_HF_BF16_DIR (tests/tools/make_hf_bf16_case.py output, made on a GPU)";
  const std::string dir = dir_env;
  torch::NoGradGuard no_grad;
  std::ifstream in(dir + "/reference.json");
  nlohmann::json j;
  in >> j;
  const int64_t prompts = j.at("num_prompts").get<int64_t>();
  const int64_t tail = j.at("tail").get<int64_t>();
  TensorMap ref;
  for (auto& [name, t] : read_safetensors(dir + "/reference.safetensors")) ref[name] = t.clone();
  const torch::Device device = torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  Qwen2ForCausalLM lm = load_qwen2_for_causal_lm(dir);
  lm->eval();
  lm->to(device, torch::kBFloat16);
  for (int64_t i = 0; i < prompts; ++i) {
    torch::Tensor ids = ref.at(key("input_ids", i)).to(torch::kInt64).unsqueeze(0).to(device);
    torch::Tensor ours = lm->forward(ids).squeeze(0).to(torch::kFloat32).cpu();
    ours = ours.narrow(0, ours.size(0) - tail, tail);
    const torch::Tensor fp32 = ref.at(key("logits_fp32", i));
    const torch::Tensor hf = ref.at(key("logits_bf16", i));
    const double ours_max = (ours - fp32).abs().max().item<double>();
    const double ours_mean = (ours - fp32).abs().mean().item<double>();
    const double hf_max = (hf - fp32).abs().max().item<double>();
    const double hf_mean = (hf - fp32).abs().mean().item<double>();
    const double ours_vs_hf = (ours - hf).abs().max().item<double>();
    const double top1 = ours.argmax(-1).eq(fp32.argmax(-1)).to(torch::kFloat64).mean().item<double>();
    const double hf_top1 = hf.argmax(-1).eq(fp32.argmax(-1)).to(torch::kFloat64).mean().item<double>();
    std::printf("[ bf16 0.5B ] prompt %lld (%lld tokens, last %lld positions): |ours_bf16 - hf_fp32| max %.4f mean %.5f; "
                "|hf_bf16 - hf_fp32| max %.4f mean %.5f; |ours_bf16 - hf_bf16| max %.4f; top-1 agreement ours %.3f hf %.3f\n",
                static_cast<long long>(i), static_cast<long long>(ids.size(1)), static_cast<long long>(tail), ours_max,
                ours_mean, hf_max, hf_mean, ours_vs_hf, top1, hf_top1);
    EXPECT_LE(ours_mean, 1.5 * hf_mean + 0.01);
    EXPECT_GE(top1, hf_top1 - 0.1);
  }
  // fp32 greedy continuation on the same device against HF generate in fp32.
  lm->to(device, torch::kFloat32);
  for (int64_t i = 0; i < prompts; ++i) {
    GenerationOptions go;
    go.max_new_tokens = j.at("greedy_new_tokens").get<int64_t>();
    go.sampling.do_sample = false;
    GenerationInput gi;
    gi.input_ids = ref.at(key("input_ids", i)).to(torch::kInt64).unsqueeze(0).to(device);
    GenerationResult r = generate(lm, gi, go, make_cpu_generator(0));
    const torch::Tensor expected = ref.at(key("greedy_fp32", i)).to(torch::kInt64);
    const int64_t same = r.tokens[0].cpu().eq(expected).sum().item<int64_t>();
    std::printf("[ bf16 0.5B ] prompt %lld: fp32 greedy tokens equal to HF generate: %lld/%lld\n",
                static_cast<long long>(i), static_cast<long long>(same), static_cast<long long>(expected.size(0)));
    EXPECT_TRUE(torch::equal(r.tokens[0].cpu(), expected)) << r.tokens[0] << " vs " << expected;
  }
}

}  // namespace
}  // namespace ril::model
