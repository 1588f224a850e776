// The models against what Hugging Face transformers 5.17 computed (tests/fixtures/model/hf/, a copy
// of shared/hf-reference with its provenance in the README there), for each model:
//   - the directory as transformers saved it,
//   - its config.json rewritten in the 4.x style (top-level rope_theta, torch_dtype),
//   - its weights split into two shards with model.safetensors.index.json,
//   - LLaVA only: its weights renamed to the 4.x hub names and to the 4.52-4.57 names.
// Checks: full-forward logits (max |diff| printed, <= kLogitTolerance) and the greedy continuation
// HF generate() wrote, token for token, from each decode step: fused, generic cached, uncached oracle.
//
// Tolerance: both sides run fp32; HF ran on the GPU machine, we on the CPU, with different matmul
// blocking and reduction orders, so logits of size ~1-5 differ by float32 rounding (~1e-6 relative
// per op, accumulated over a few layers): 1e-4 is ~50x the measured difference and ~3x smaller than
// the smallest top-1/top-2 gap in the fixtures (2.4e-4), so a real formula error cannot hide in it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "hf_dir_util.h"
#include "model_test_util.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/model/image_processor.h"
#include "ril/model/safetensors.h"
#include "support/temp_dir.h"

namespace ril::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::copy_dir;
using testing::fixtures_dir;
using testing::max_abs_diff;
using testing::read_json;
using testing::rename_weights;
using testing::replace_prefix;
using testing::split_into_two_shards;
using testing::write_json;

constexpr double kLogitTolerance = 1e-4;

// 4.x style: rope_parameters -> top-level rope_theta, dtype -> torch_dtype, in the root and in
// text_config.
void rewrite_config_v4(const std::string& dir) {
  json j = read_json(dir + "/config.json");
  auto fix = [](json& c) {
    if (c.contains("rope_parameters")) {
      c["rope_theta"] = c["rope_parameters"]["rope_theta"];
      c.erase("rope_parameters");
    }
    if (c.contains("dtype")) {
      c["torch_dtype"] = c["dtype"];
      c.erase("dtype");
    }
  };
  fix(j);
  if (j.contains("text_config")) fix(j["text_config"]);
  ASSERT_FALSE(j.dump().find("rope_parameters") != std::string::npos);
  write_json(dir + "/config.json", j);
}

// 5.17 LLaVA names -> 4.x hub names (SigLIP with its vision_model. level).
std::string llava_v4_name(const std::string& n) {
  for (const char* part : {"embeddings.", "encoder.", "post_layernorm.", "head."}) {
    const std::string from = std::string("vision_tower.") + part;
    if (n.compare(0, from.size(), from) == 0) return replace_prefix(n, "vision_tower.", "vision_tower.vision_model.");
  }
  return n;
}

// 4.x hub names -> 4.52-4.57 names.
std::string llava_v452_name(const std::string& n4) {
  std::string n = llava_v4_name(n4);
  if (n.rfind("language_model.model.", 0) == 0) return replace_prefix(n, "language_model.model.", "model.language_model.");
  if (n.rfind("language_model.lm_head.", 0) == 0) return replace_prefix(n, "language_model.lm_head.", "lm_head.");
  if (n.rfind("vision_tower.", 0) == 0) return "model." + n;
  if (n.rfind("multi_modal_projector.", 0) == 0) return "model." + n;
  return n;
}

struct Measured {
  double logit_diff = 0;
  bool greedy_checked = false;
};

// Loads `dir`, compares logits and greedy tokens with `ref` (the fixture's reference.safetensors).
Measured check_dir(const std::string& dir, const TensorMap& ref, const std::string& label) {
  SCOPED_TRACE(label);
  torch::NoGradGuard no_grad;
  PretrainedModel m = load_pretrained(dir);
  m.module().eval();
  const torch::Tensor ids = ref.at("input_ids");  // [B, T], no padding
  ImageInputs images;
  if (ref.count("pixel_values")) images.pixel_values = ref.at("pixel_values");
  if (ref.count("image_grid_thw")) images.image_grid_thw = ref.at("image_grid_thw");
  torch::Tensor logits = m.forward(ids, torch::Tensor(), images);
  Measured out;
  out.logit_diff = max_abs_diff(logits, ref.at("logits"));
  std::printf("[ hf 5.17 ] %-34s max |logit diff| = %.3e\n", label.c_str(), out.logit_diff);
  EXPECT_LE(out.logit_diff, kLogitTolerance);
  if (!ref.count("greedy")) return out;
  const torch::Tensor greedy = ref.at("greedy")[0];  // prompt + new tokens
  const int64_t p = ids.size(1), n = greedy.size(0) - p;
  EXPECT_TRUE(torch::equal(greedy.narrow(0, 0, p), ids[0])) << "greedy does not start with input_ids[0]";
  GenerationOptions go;
  go.max_new_tokens = n;
  go.sampling.do_sample = false;
  // Every decode step against HF: the fused one-token step (the default), the generic cached
  // forward and the uncached oracle; each result says which step ran.
  for (const DecodePath path : {DecodePath::kFused, DecodePath::kGeneric, DecodePath::kUncached}) {
    go.use_cache = path != DecodePath::kUncached;
    go.fused_decode = path == DecodePath::kFused;
    ImageInputs first = images.defined() && ids.size(0) > 1 ? images.select(0) : images;
    GenerationResult r = m.generate(ids.narrow(0, 0, 1), torch::Tensor(), first, go, make_cpu_generator(0));
    EXPECT_EQ(r.decode_path, path) << decode_path_name(r.decode_path);
    const torch::Tensor expected = greedy.narrow(0, p, n);
    const int64_t same = r.tokens[0].eq(expected).sum().item<int64_t>();
    std::printf("[ hf 5.17 ] %-34s greedy (%s): %lld/%lld tokens equal\n", label.c_str(), decode_path_name(path),
                static_cast<long long>(same), static_cast<long long>(n));
    EXPECT_TRUE(torch::equal(r.tokens[0], expected)) << decode_path_name(path) << "\n  got      " << r.tokens[0]
                                                     << "\n  expected " << expected;
  }
  out.greedy_checked = true;
  return out;
}

TensorMap read_reference(const std::string& dir) {
  TensorMap ref;
  for (auto& [name, t] : read_safetensors(dir + "/reference.safetensors")) ref[name] = t.clone();
  return ref;
}

// Every variant of one fixture.
void check_fixture(const std::string& name) {
  const std::string src = fixtures_dir() + "/hf/" + name;
  ASSERT_TRUE(fs::exists(src + "/config.json")) << src;
  const TensorMap ref = read_reference(src);
  ril::test::TempDir tmp;
  check_dir(src, ref, name + " (as saved by 5.17)");
  {
    const std::string d = copy_dir(src, tmp.path() + "/v4config");
    rewrite_config_v4(d);
    check_dir(d, ref, name + " (4.x config.json)");
  }
  {
    const std::string d = copy_dir(src, tmp.path() + "/sharded");
    split_into_two_shards(d);
    check_dir(d, ref, name + " (two shards + index)");
  }
  if (name.find("llava") == std::string::npos) return;
  {
    const std::string d = copy_dir(src, tmp.path() + "/names_v4");
    rename_weights(d, llava_v4_name);
    rewrite_config_v4(d);
    check_dir(d, ref, name + " (4.x hub names and config)");
  }
  {
    const std::string d = copy_dir(src, tmp.path() + "/names_v452");
    rename_weights(d, llava_v452_name);
    check_dir(d, ref, name + " (4.52-4.57 names)");
  }
}

// The image processor against HF's: the slow (Pillow) one exactly up to float32 rounding, the
// torchvision one within one uint8 level (its resize rounds differently on a few pixels).
void check_hf_preprocessing(const std::string& dir, const TensorMap& ref, const std::string& label) {
  const ModelConfig config = load_model_config(dir);
  double slow = 0, fast = 0;
  int64_t k = 0;
  for (; ref.count("image." + std::to_string(k)); ++k) {
    const std::string i = std::to_string(k);
    const ImageInputs ours = preprocess_images(config, {rgb_image(ref.at("image." + i))});
    ASSERT_EQ(ours.pixel_values.sizes(), ref.at("pixel_values." + i).sizes()) << label << " image " << i;
    slow = std::max(slow, max_abs_diff(ours.pixel_values, ref.at("pixel_values." + i)));
    fast = std::max(fast, max_abs_diff(ours.pixel_values, ref.at("pixel_values_fast." + i)));
    if (ref.count("image_grid_thw." + i)) EXPECT_TRUE(torch::equal(ours.image_grid_thw[0], ref.at("image_grid_thw." + i)));
  }
  std::printf("[ hf ] %s preprocessing of %lld images: max |diff| vs the Pillow processor %.3e, vs the "
              "torchvision one %.3e\n", label.c_str(), static_cast<long long>(k), slow, fast);
  EXPECT_LE(slow, 1e-5);
  EXPECT_LE(fast, 1.01 / 255 / 0.225);  // one uint8 level over the smallest std
}

// Qwen2.5-VL and InternVL fixtures made by tests/tools/make_hf_fixtures.py (skipped when absent).
void check_vlm_fixture(const std::string& name) {
  const std::string dir = fixtures_dir() + "/hf/" + name;
  if (!fs::exists(dir + "/reference.safetensors")) {
    GTEST_SKIP() << dir << " is absent: run tests/tools/make_hf_fixtures.py where transformers is installed "
                 << "(no machine with transformers was lent when this test was written)";
  }
  const TensorMap ref = read_reference(dir);
  check_hf_preprocessing(dir, ref, name);
  ril::test::TempDir tmp;
  check_dir(dir, ref, name + " (as saved by transformers)");
  const std::string d = copy_dir(dir, tmp.path() + "/sharded");
  split_into_two_shards(d);
  check_dir(d, ref, name + " (two shards + index)");
}

TEST(HuggingFaceFixtures, Qwen2_5_VL) { check_vlm_fixture("qwen2_5_vl"); }
TEST(HuggingFaceFixtures, InternVL) { check_vlm_fixture("internvl"); }

TEST(HuggingFaceFixtures, Qwen2) { check_fixture("qwen2"); }
TEST(HuggingFaceFixtures, Qwen2Tied) { check_fixture("qwen2_tied"); }
TEST(HuggingFaceFixtures, LlavaSiglipQwen2) { check_fixture("llava_siglip_qwen2"); }

// What ril saves loads back with the same outputs (and its names are the 4.x hub names).
TEST(HuggingFaceFixtures, LlavaSavedByRilIsTheV4Layout) {
  const std::string src = fixtures_dir() + "/hf/llava_siglip_qwen2";
  const TensorMap ref = read_reference(src);
  ril::test::TempDir tmp;
  PretrainedModel m = load_pretrained(src);
  m.save(tmp.path() + "/saved");
  const TensorMap saved = read_safetensors(tmp.path() + "/saved/model.safetensors");
  EXPECT_TRUE(saved.count("vision_tower.vision_model.embeddings.patch_embedding.weight"));
  EXPECT_TRUE(saved.count("language_model.model.embed_tokens.weight"));
  EXPECT_TRUE(saved.count("language_model.lm_head.weight"));
  EXPECT_TRUE(saved.count("multi_modal_projector.linear_1.weight"));
  check_dir(tmp.path() + "/saved", ref, "llava_siglip_qwen2 (saved by ril)");
}

}  // namespace
}  // namespace ril::model
