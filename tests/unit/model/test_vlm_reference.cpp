// Qwen2.5-VL and InternVL3 against their independent Python references (float64; written from the
// published architectures: tests/tools/qwen2_5_vl_reference.py, tests/tools/internvl_reference.py):
//   model/ref_qwen2_5_vl        transformers 5.x config keys and names
//   model/ref_internvl          InternViT-300M style (LayerNorm, qkv bias), -hf names, 4.x keys
//   model/ref_internvl_qknorm   InternViT-6B style (RMSNorm, q/k norm, no qkv bias, final LayerNorm)
// (What transformers itself computes for these families: test_hf_fixtures.cpp, when
// tests/tools/make_hf_fixtures.py has been run where transformers is.)
// Checks, each with its measured difference printed:
//   - image preprocessing of odd-sized images: resized images byte for byte, pixel values
//     (max |diff| <= 1e-6: float32 vs float64 normalisation), grids / tiles / token counts;
//   - logits of every prompt alone and in one left-padded batch (<= 1e-4, float32 vs float64);
//   - M-RoPE position ids (Qwen2.5-VL) exactly;
//   - greedy tokens from the batched generator (fused and generic KV-cache steps) and the uncached oracle, exactly;
//   - the same logits after rewriting config.json into the other transformers layout, renaming the
//     weights into the other version's names, and after ril saves and reloads the model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "hf_dir_util.h"
#include "model_test_util.h"
#include "ril/model/checkpoint.h"
#include "ril/model/image_processor.h"
#include "ril/model/internvl_image_processor.h"
#include "ril/model/qwen2_vl_image_processor.h"
#include "support/temp_dir.h"

namespace ril::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::fixtures_dir;
using testing::left_pad;
using testing::max_abs_diff;

constexpr double kLogitTolerance = 1e-4;
constexpr double kPixelTolerance = 1e-6;

struct RefCase {
  std::string dir;
  json meta;
  TensorMap ref;
  int64_t prompts = 0, images = 0;
};

RefCase read_case(const std::string& dir) {
  RefCase c;
  c.dir = dir;
  c.meta = testing::read_json(dir + "/reference.json");
  EXPECT_EQ(c.meta.at("format_version").get<int>(), 1) << dir << ": regenerate with " << c.meta.value("regenerate", "?");
  for (auto& [name, t] : read_safetensors(dir + "/reference.safetensors")) c.ref[name] = t.clone();
  c.prompts = c.meta.at("num_prompts").get<int64_t>();
  c.images = c.meta.at("num_images").get<int64_t>();
  return c;
}

std::string key(const char* what, int64_t i) { return std::string(what) + "." + std::to_string(i); }

RgbImage image_of(const RefCase& c, int64_t k) { return rgb_image(c.ref.at(key("image", k))); }

// The reference's own pixel values of image k as model inputs.
ImageInputs ref_image(const RefCase& c, int64_t k) {
  ImageInputs in;
  in.pixel_values = c.ref.at(key("pixel_values", k));
  if (c.ref.count(key("image_grid_thw", k))) in.image_grid_thw = c.ref.at(key("image_grid_thw", k)).view({1, 3});
  if (c.ref.count(key("tiles", k))) in.tiles = {c.ref.at(key("tiles", k))[0].item<int64_t>()};
  return in;
}

ImageInputs prompt_images(const RefCase& c, int64_t i) {
  std::vector<ImageInputs> parts;
  const torch::Tensor used = c.ref.at(key("prompt_images", i));
  for (int64_t j = 0; used[j].item<int64_t>() >= 0; ++j) parts.push_back(ref_image(c, used[j].item<int64_t>()));
  return ImageInputs::cat(parts);
}

// Byte mismatches between two uint8 images (0 expected: both follow Pillow's integer arithmetic).
int64_t byte_mismatches(const RgbImage& got, const torch::Tensor& expected) {
  EXPECT_EQ(got.height, expected.size(0));
  EXPECT_EQ(got.width, expected.size(1));
  if (got.height != expected.size(0) || got.width != expected.size(1)) return -1;
  torch::Tensor g = torch::from_blob(const_cast<uint8_t*>(got.pixels.data()), expected.sizes(), torch::kUInt8);
  return g.ne(expected).sum().item<int64_t>();
}

// ---- preprocessing ----------------------------------------------------------------------------

void check_preprocessing(const std::string& name) {
  const RefCase c = read_case(fixtures_dir() + "/" + name);
  const ModelConfig config = load_model_config(c.dir);
  double worst = 0;
  int64_t mismatched = 0;
  for (int64_t k = 0; k < c.images; ++k) {
    SCOPED_TRACE(key("image", k));
    const RgbImage img = image_of(c, k);
    const torch::Tensor resized = c.ref.at(key("resized", k));
    mismatched += byte_mismatches(resize_bicubic(img, resized.size(0), resized.size(1)), resized);
    if (c.ref.count(key("thumbnail", k)) && c.ref.at(key("tiles", k))[0].item<int64_t>() > 1) {
      const int64_t s = config.internvl.vision_config.image_size;
      mismatched += byte_mismatches(resize_bicubic(img, s, s), c.ref.at(key("thumbnail", k)));
    }
    const ImageInputs ours = preprocess_images(config, {img});
    const ImageInputs theirs = ref_image(c, k);
    ASSERT_EQ(ours.pixel_values.sizes(), theirs.pixel_values.sizes());
    worst = std::max(worst, max_abs_diff(ours.pixel_values, theirs.pixel_values));
    if (theirs.image_grid_thw.defined()) {
      EXPECT_TRUE(torch::equal(ours.image_grid_thw, theirs.image_grid_thw)) << ours.image_grid_thw;
      const auto [gh, gw] = std::pair{theirs.image_grid_thw[0][1].item<int64_t>(), theirs.image_grid_thw[0][2].item<int64_t>()};
      EXPECT_EQ(ours.tokens.at(0), gh * gw / 4);
    } else {
      EXPECT_EQ(ours.tiles, theirs.tiles);
      EXPECT_EQ(ours.tokens.at(0), theirs.tiles.at(0) * config.internvl.tokens_per_tile());
    }
    EXPECT_EQ(ours.tokens.at(0), num_image_tokens(config, img.height, img.width));
  }
  std::printf("[ vlm ref ] %s preprocessing of %lld odd-sized images: %lld resized bytes differ, "
              "max |pixel value diff| = %.3e\n", name.c_str(), static_cast<long long>(c.images),
              static_cast<long long>(mismatched), worst);
  EXPECT_EQ(mismatched, 0);
  EXPECT_LE(worst, kPixelTolerance);
}

TEST(VlmReference, Qwen2_5_VLPreprocessing) { check_preprocessing("ref_qwen2_5_vl"); }
TEST(VlmReference, InternVLPreprocessing) { check_preprocessing("ref_internvl"); }

TEST(VlmReference, SmartResizeAndTilingRules) {
  // Python's round() rounds 2.5 to 2: a 70-px side becomes 56, a 98-px side 112.
  EXPECT_EQ(qwen2_vl_smart_resize(70, 98, 28, 3136, 12845056), std::make_pair(int64_t{56}, int64_t{112}));
  EXPECT_EQ(qwen2_vl_smart_resize(30, 33, 28, 3136, 9408), std::make_pair(int64_t{56}, int64_t{84}));
  EXPECT_EQ(qwen2_vl_smart_resize(150, 170, 28, 3136, 9408), std::make_pair(int64_t{84}, int64_t{84}));
  // InternVL: a square image of 2x2 tiles' area keeps one tile; of more than half of it, 2x2.
  EXPECT_EQ(internvl_tile_grid(448, 448, 448, 1, 12), std::make_pair(int64_t{1}, int64_t{1}));
  EXPECT_EQ(internvl_tile_grid(64, 64, 32, 1, 6), std::make_pair(int64_t{2}, int64_t{2}));
  EXPECT_EQ(internvl_tile_grid(100, 300, 448, 1, 12), std::make_pair(int64_t{3}, int64_t{1}));
}

// ---- model ------------------------------------------------------------------------------------

// Logits of each prompt alone and of all in one left-padded batch, and (with `greedy`) the greedy
// continuation, batched, cached and uncached. Returns the largest logit difference.
double check_model(PretrainedModel& m, const RefCase& c, const std::string& label, bool greedy) {
  SCOPED_TRACE(label);
  torch::NoGradGuard no_grad;
  m.module().eval();
  double alone = 0, batched = 0;
  std::vector<torch::Tensor> prompts;
  std::vector<ImageInputs> images;
  for (int64_t i = 0; i < c.prompts; ++i) {
    prompts.push_back(c.ref.at(key("input_ids", i)));
    images.push_back(prompt_images(c, i));
    const torch::Tensor ids = prompts.back().unsqueeze(0);
    alone = std::max(alone, max_abs_diff(m.forward(ids, torch::Tensor(), images.back())[0], c.ref.at(key("logits", i))));
    if (c.ref.count(key("position_ids", i))) {
      torch::Tensor pos = m.position_ids(ids, torch::Tensor(), images.back());
      EXPECT_TRUE(torch::equal(pos.select(1, 0), c.ref.at(key("position_ids", i)))) << "M-RoPE positions, prompt " << i;
    }
  }
  auto [ids, mask] = left_pad(prompts, /*pad=*/0);
  const ImageInputs all = ImageInputs::cat(images);
  torch::Tensor logits = m.forward(ids, mask, all);
  for (int64_t i = 0; i < c.prompts; ++i) {
    const int64_t n = prompts[i].size(0);
    batched = std::max(batched, max_abs_diff(logits[i].narrow(0, ids.size(1) - n, n), c.ref.at(key("logits", i))));
  }
  std::printf("[ vlm ref ] %-44s max |logit diff| alone %.3e, left-padded batch %.3e\n", label.c_str(), alone, batched);
  EXPECT_LE(alone, kLogitTolerance);
  EXPECT_LE(batched, kLogitTolerance);
  if (!greedy) return std::max(alone, batched);
  GenerationOptions go;
  go.max_new_tokens = c.meta.at("greedy_new_tokens").get<int64_t>();
  go.sampling.do_sample = false;
  for (const DecodePath path : {DecodePath::kFused, DecodePath::kGeneric, DecodePath::kUncached}) {
    go.use_cache = path != DecodePath::kUncached;
    go.fused_decode = path == DecodePath::kFused;
    GenerationResult r = m.generate(ids, mask, all, go, make_cpu_generator(0));
    EXPECT_EQ(r.decode_path, path) << decode_path_name(r.decode_path);
    int64_t same = 0, total = 0;
    for (int64_t i = 0; i < c.prompts; ++i) {
      const torch::Tensor expected = c.ref.at(key("greedy", i));
      same += r.tokens[i].eq(expected).sum().item<int64_t>();
      total += expected.size(0);
      EXPECT_TRUE(torch::equal(r.tokens[i], expected)) << decode_path_name(path) << " prompt " << i
                                                       << "\n  got      " << r.tokens[i] << "\n  expected " << expected;
    }
    std::printf("[ vlm ref ] %-44s greedy, batch of %lld (%s): %lld/%lld tokens equal\n", label.c_str(),
                static_cast<long long>(c.prompts), decode_path_name(path), static_cast<long long>(same),
                static_cast<long long>(total));
  }
  return std::max(alone, batched);
}

// Qwen2.5-VL 5.x config -> the 4.x hub layout (text keys at the top, rope_scaling mrope, in_chans).
void qwen_config_to_v4(json& j) {
  json text = j.at("text_config");
  j.erase("text_config");
  for (auto& [k, v] : text.items()) {
    if (k != "model_type") j[k] = v;
  }
  const json rp = j.at("rope_parameters");
  j.erase("rope_parameters");
  j["rope_theta"] = rp.at("rope_theta");
  j["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", rp.at("mrope_section")}};
  j["torch_dtype"] = j.at("dtype");
  j.erase("dtype");
  j["vision_config"].erase("model_type");
  j["vision_config"]["in_chans"] = j["vision_config"].at("in_channels");
  j["vision_config"].erase("in_channels");
}

std::string qwen_name_to_v4(const std::string& n) {
  std::string out = testing::replace_prefix(n, "model.language_model.", "model.");
  return testing::replace_prefix(out, "model.visual.", "visual.");
}

// InternVL 4.x-style config -> 5.x keys (rope_parameters, dtype).
void internvl_config_to_v5(json& j) {
  json& t = j["text_config"];
  t["rope_parameters"] = {{"rope_type", "dynamic"}, {"factor", t.at("rope_scaling").at("factor")},
                          {"rope_theta", t.at("rope_theta")}};
  t.erase("rope_scaling");
  t.erase("rope_theta");
  for (json* c : {&j, &t}) {
    (*c)["dtype"] = c->at("torch_dtype");
    c->erase("torch_dtype");
  }
}

std::string internvl_name_to_v452(const std::string& n) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"language_model.model.", "model.language_model."}, {"language_model.lm_head.", "lm_head."},
           {"vision_tower.", "model.vision_tower."}, {"multi_modal_projector.", "model.multi_modal_projector."}}) {
    if (n.rfind(from, 0) == 0) return to + n.substr(from.size());
  }
  return n;
}

void check_family(const std::string& name, const std::function<void(json&)>& other_config,
                  const std::function<std::string(const std::string&)>& other_names) {
  const RefCase c = read_case(fixtures_dir() + "/" + name);
  PretrainedModel m = load_pretrained(c.dir);
  check_model(m, c, name, /*greedy=*/true);
  ril::test::TempDir tmp;
  {
    const std::string d = testing::copy_dir(c.dir, tmp.path() + "/other_config");
    testing::edit_config(d, other_config);
    PretrainedModel v = load_pretrained(d);
    check_model(v, c, name + " (other transformers config layout)", false);
  }
  {
    const std::string d = testing::copy_dir(c.dir, tmp.path() + "/other_names");
    testing::rename_weights(d, other_names);
    testing::split_into_two_shards(d);
    PretrainedModel v = load_pretrained(d);
    check_model(v, c, name + " (other version's names, 2 shards)", false);
  }
  {
    m.save(tmp.path() + "/saved");
    PretrainedModel v = load_pretrained(tmp.path() + "/saved");
    EXPECT_EQ(v.config.kind, m.config.kind);
    check_model(v, c, name + " (saved by ril, reloaded)", false);
  }
}

TEST(VlmReference, Qwen2_5_VL) { check_family("ref_qwen2_5_vl", qwen_config_to_v4, qwen_name_to_v4); }
TEST(VlmReference, InternVL) { check_family("ref_internvl", internvl_config_to_v5, internvl_name_to_v452); }
TEST(VlmReference, InternVLWithQkNorm) {
  check_family("ref_internvl_qknorm", internvl_config_to_v5, internvl_name_to_v452);
}

}  // namespace
}  // namespace ril::model
