// The C++ models against independent implementations:
//   model/ref_qwen2, model/ref_llava: tests/tools/model_reference.py (float64 math, HF names;
//       ref_llava uses transformers 5.x names and config keys)
//   model/hf/qwen2, model/hf/llava:   tests/tools/make_hf_fixtures.py (HF transformers; made on a
//       machine that has transformers, skipped when absent)
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

  // (3) greedy continuation: batched, cached and uncached
  GenerationOptions go;
  go.max_new_tokens = rc.greedy_new_tokens;
  go.sampling.do_sample = false;
  GenerationInput gi;
  gi.input_ids = ids;
  gi.attention_mask = mask;
  gi.inputs_embeds = embeds;
  for (bool cached : {true, false}) {
    go.use_cache = cached;
    GenerationResult r = generate(lm, gi, go, make_cpu_generator(0));
    for (int64_t i = 0; i < rc.num_prompts; ++i) {
      torch::Tensor expected = rc.data.at(key("greedy", i));
      EXPECT_TRUE(torch::equal(r.tokens[i], expected))
          << (cached ? "cached" : "uncached") << " prompt " << i << "\n  got      "
          << r.tokens[i] << "\n  expected " << expected;
    }
  }
}

std::vector<std::string> case_dirs() {
  std::vector<std::string> out;
  for (const char* name : {"ref_qwen2", "ref_llava", "hf/qwen2", "hf/llava"}) {
    const std::string d = fixtures_dir() + "/" + name;
    if (std::filesystem::exists(d + "/reference.json")) out.push_back(d);
  }
  return out;
}

TEST(ModelReference, PythonReferenceQwen2) { check_case(fixtures_dir() + "/ref_qwen2"); }

TEST(ModelReference, PythonReferenceLlava) { check_case(fixtures_dir() + "/ref_llava"); }

TEST(ModelReference, HuggingFaceFixtures) {
  int found = 0;
  for (const auto& d : case_dirs()) {
    if (d.find("/hf/") == std::string::npos) continue;
    check_case(d);
    ++found;
  }
  if (found == 0) {
    GTEST_SKIP() << "no HF fixtures under " << fixtures_dir()
                 << "/hf (make them with tests/tools/make_hf_fixtures.py where transformers is)";
  }
}

}  // namespace
}  // namespace ril::model
