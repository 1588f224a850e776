// Qwen2.5-VL and InternVL3 as the jobs use them (tiny presets, PretrainedModel): generation with the
// KV cache against the uncached oracle, batch against alone, teacher-forced log-probs against the
// generator's, the discriminator's mirror init, sizes of the real presets; and bad input, each a
// clear error that names the file and the key (or the counts), with nothing half-loaded.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cctype>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_dir_util.h"
#include "model_test_util.h"
#include "ril/model/checkpoint.h"
#include "ril/model/discriminator.h"
#include "ril/model/model_size.h"
#include "support/temp_dir.h"

namespace ril::model {
namespace {

using json = nlohmann::json;
using testing::expect_error_contains;
using testing::left_pad;
using testing::max_abs_diff;

RgbImage gradient_image(int64_t h, int64_t w, int seed) {
  std::vector<uint8_t> px(static_cast<size_t>(h * w * 3));
  for (int64_t i = 0; i < h * w * 3; ++i) px[i] = static_cast<uint8_t>((i * 37 + seed * 101 + (i / 3) % w * 5) % 256);
  return rgb_image(h, w, std::move(px));
}

// A prompt "text, start, N x image token, end, text" for one image of `m`.
torch::Tensor image_prompt(PretrainedModel& m, const ImageInputs& image, int64_t pre, int64_t post, int64_t seed) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < pre; ++i) ids.push_back((seed * 13 + i * 7) % 900 + 10);
  ids.push_back(5);  // stands for the start marker: any ordinary token
  ids.insert(ids.end(), static_cast<size_t>(image.tokens.at(0)), m.image_token_id());
  ids.push_back(6);
  for (int64_t i = 0; i < post; ++i) ids.push_back((seed * 17 + i * 11) % 900 + 10);
  return torch::tensor(ids, torch::kInt64);
}

class TinyVlm : public ::testing::TestWithParam<std::string> {};

// Two prompts with images of different sizes (so different placeholder counts for Qwen2.5-VL and
// InternVL) and a text-only one, left-padded into one batch.
TEST_P(TinyVlm, CachedMatchesUncachedBatchMatchesAloneLogprobsMatchGeneration) {
  torch::NoGradGuard no_grad;
  PretrainedModel m = PretrainedModel::create(model_preset(GetParam()), 7);
  m.module().eval();
  const std::vector<RgbImage> raw = {gradient_image(64, 64, 1), gradient_image(50, 97, 2)};
  std::vector<ImageInputs> images = {m.preprocess_images({raw[0]}), m.preprocess_images({raw[1]})};
  for (size_t k = 0; k < raw.size(); ++k) {
    EXPECT_EQ(images[k].tokens.at(0), m.num_image_tokens(raw[k].height, raw[k].width));
  }
  std::vector<torch::Tensor> prompts = {image_prompt(m, images[0], 3, 4, 1), image_prompt(m, images[1], 1, 6, 2),
                                        torch::arange(20, 31, torch::kInt64)};
  auto [ids, mask] = left_pad(prompts, 0);
  const ImageInputs all = ImageInputs::cat(images);
  GenerationOptions go;
  go.max_new_tokens = 8;
  go.sampling.do_sample = true;
  go.sampling.temperature = 1.0;
  GenerationResult cached = m.generate(ids, mask, all, go, make_cpu_generator(11));
  go.use_cache = false;
  GenerationResult uncached = m.generate(ids, mask, all, go, make_cpu_generator(11));
  EXPECT_TRUE(torch::equal(cached.tokens, uncached.tokens)) << cached.tokens << uncached.tokens;
  EXPECT_LE(max_abs_diff(cached.logprobs, uncached.logprobs), 1e-4);
  // Each prompt alone gives its row of the batch (greedy, so no sampler order matters).
  go.sampling.do_sample = false;
  go.use_cache = true;
  GenerationResult batch = m.generate(ids, mask, all, go, make_cpu_generator(0));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const ImageInputs one = i < images.size() ? images[i] : ImageInputs();
    GenerationResult alone = m.generate(prompts[i].unsqueeze(0), torch::Tensor(), one, go, make_cpu_generator(0));
    EXPECT_TRUE(torch::equal(alone.tokens[0], batch.tokens[i])) << GetParam() << " prompt " << i;
  }
  // Teacher-forced log-probs of the generated tokens equal the generator's (RL ratio invariant).
  torch::Tensor rmask = torch::arange(go.max_new_tokens).unsqueeze(0).lt(batch.lengths.unsqueeze(1)).to(torch::kInt64);
  torch::Tensor lp = sequence_logprobs(m.language_model(),
                                       m.teacher_forced_input(ids, mask, all, batch.tokens, rmask));
  EXPECT_LE(max_abs_diff(lp, batch.logprobs * rmask), 1e-4);
}

TEST_P(TinyVlm, SaveLoadRoundTripAndDiscriminatorMirror) {
  torch::NoGradGuard no_grad;
  ril::test::TempDir tmp;
  PretrainedModel m = PretrainedModel::create(model_preset(GetParam()), 3);
  SaveOptions so;
  so.max_shard_bytes = 200000;  // several shards
  m.save(tmp.path() + "/m", so);
  PretrainedModel back = load_pretrained(tmp.path() + "/m");
  // LLaVA's SigLIP processor settings live in config.json; the dynamic-resolution families write theirs.
  EXPECT_EQ(std::filesystem::exists(tmp.path() + "/m/preprocessor_config.json"), GetParam() != "tiny-llava");
  auto a = m.module().named_parameters(), b = back.module().named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), *b.find(p.key()))) << p.key();
  EXPECT_EQ(model_size(m.config).total_params(), [&] {
    int64_t n = 0;
    for (const auto& p : a) n += p.value().numel();
    return n;
  }());
  Qwen2Discriminator disc(m.config.text());
  disc->init_from_student(m.language_model(), 5);
  torch::Tensor ids = torch::arange(10, 22, torch::kInt64).unsqueeze(0);
  EXPECT_EQ(disc->forward(ids).sizes(), torch::IntArrayRef({1}));
}

INSTANTIATE_TEST_SUITE_P(Presets, TinyVlm, ::testing::Values("tiny-qwen2.5-vl", "tiny-internvl3", "tiny-llava"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return s;
                         });

// ---- sizes ------------------------------------------------------------------------------------

TEST(ModelSize, RealPresetsMatchThePublishedTotals) {
  struct Expect {
    const char* preset;
    double params;  // published, rounded
    double tolerance;
  };
  for (const Expect& e : {Expect{"qwen2.5-vl-3b", 3.75e9, 0.01e9}, Expect{"qwen2.5-vl-7b", 8.29e9, 0.01e9},
                          Expect{"internvl3-1b", 0.94e9, 0.01e9}, Expect{"internvl3-2b", 2.09e9, 0.02e9},
                          Expect{"internvl3-8b", 7.94e9, 0.02e9}}) {
    const ModelConfig c = model_preset(e.preset);
    const ModelSize s = model_size(c);
    std::printf("%s", describe_model_size(c, e.preset).c_str());
    EXPECT_NEAR(static_cast<double>(s.total_params()), e.params, e.tolerance) << e.preset;
  }
  // Qwen2.5-VL: 448x448 -> 16x16 merged tokens; InternVL: one 448 tile -> 256 tokens.
  EXPECT_EQ(num_image_tokens(model_preset("qwen2.5-vl-3b"), 448, 448), 256);
  EXPECT_EQ(num_image_tokens(model_preset("internvl3-1b"), 448, 448), 256);
  EXPECT_EQ(num_image_tokens(model_preset("internvl3-1b"), 448, 896), 3 * 256);  // 2 tiles + thumbnail
  EXPECT_EQ(kv_cache_bytes_per_token(model_preset("qwen2.5-vl-7b").text(), "bfloat16"), 2 * 28 * 4 * 128 * 2);
}

// ---- bad input --------------------------------------------------------------------------------

std::string write_model_dir(const std::string& dir, const std::string& preset) {
  PretrainedModel m = PretrainedModel::create(model_preset(preset), 1);
  m.save(dir);
  return dir;
}

TEST(VlmBadInput, ConfigErrorsNameFileAndKey) {
  ril::test::TempDir tmp;
  const std::string q = write_model_dir(tmp.path() + "/q", "tiny-qwen2.5-vl");
  const std::string iv = write_model_dir(tmp.path() + "/i", "tiny-internvl3");
  struct Case {
    std::string dir;
    std::function<void(json&)> edit;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases = {
      {q, [](json& j) { j["model_type"] = "qwen2_vl"; }, {"config.json", "'model_type'", "qwen2_vl"}},
      {q, [](json& j) { j["vision_config"]["hidden_act"] = "quick_gelu"; }, {"config.json", "vision_config", "'hidden_act'"}},
      {q, [](json& j) { j["vision_config"]["model_type"] = "siglip_vision_model"; }, {"config.json", "vision_config", "siglip"}},
      {q, [](json& j) { j["text_config"]["use_sliding_window"] = true; }, {"config.json", "'use_sliding_window'"}},
      {q, [](json& j) { j["text_config"]["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", {4, 4, 4}}}; },
       {"config.json", "'mrope_section'"}},
      {q, [](json& j) { j["vision_config"]["out_hidden_size"] = 64; }, {"config.json", "out_hidden_size"}},
      {iv, [](json& j) { j["text_config"]["model_type"] = "llama"; }, {"config.json", "text_config", "llama"}},
      {iv, [](json& j) { j["vision_feature_layer"] = {-1, -2}; }, {"config.json", "'vision_feature_layer'"}},
      {iv, [](json& j) { j["downsample_ratio"] = 0.25; }, {"config.json", "'downsample_ratio'"}},
      {iv, [](json& j) { j["vision_feature_select_strategy"] = "full"; }, {"config.json", "'vision_feature_select_strategy'"}},
      {iv, [](json& j) { j["image_seq_length"] = 256; }, {"config.json", "'image_seq_length'"}},
      {iv, [](json& j) { j["vision_config"]["norm_type"] = "batch_norm"; }, {"config.json", "'norm_type'"}},
      {iv, [](json& j) { j["vision_config"]["image_size"] = {64, 32}; }, {"config.json", "'image_size'"}},
  };
  for (const Case& c : cases) {
    const std::string d = testing::copy_dir(c.dir, tmp.path() + "/case");
    testing::edit_config(d, c.edit);
    expect_error_contains([&] { load_pretrained(d); }, c.needles);
    std::filesystem::remove_all(d);
  }
  // preprocessor_config.json keys: named with the file.
  for (const auto& [dir, key, value] : std::vector<std::tuple<std::string, std::string, json>>{
           {q, "resample", 2}, {q, "merge_size", 4}, {q, "do_normalize", false}, {iv, "size", {{"height", 448}, {"width", 448}}}}) {
    const std::string d = testing::copy_dir(dir, tmp.path() + "/case");
    json pre = testing::read_json(d + "/preprocessor_config.json");
    pre[key] = value;
    testing::write_json(d + "/preprocessor_config.json", pre);
    expect_error_contains([&] { load_pretrained(d); }, {"preprocessor_config.json", "'" + key + "'"});
    std::filesystem::remove_all(d);
  }
  // Missing weights: one error listing them, nothing returned.
  const std::string d = testing::copy_dir(q, tmp.path() + "/case");
  testing::rename_weights(d, [](const std::string& n) { return n == "visual.merger.ln_q.weight" ? "visual.merger.norm.weight" : n; });
  expect_error_contains([&] { load_pretrained(d); }, {"case", "visual.merger.ln_q.weight", "visual.merger.norm.weight"});
}

TEST(VlmBadInput, ImagesAndPlaceholders) {
  torch::NoGradGuard no_grad;
  PretrainedModel q = PretrainedModel::create(model_preset("tiny-qwen2.5-vl"), 1);
  PretrainedModel iv = PretrainedModel::create(model_preset("tiny-internvl3"), 1);
  // Smaller than one (merged) patch, extreme aspect ratio.
  expect_error_contains([&] { q.preprocess_images({gradient_image(12, 64, 0)}); }, {"12x64", "smaller than one merged patch"});
  expect_error_contains([&] { iv.preprocess_images({gradient_image(64, 5, 0)}); }, {"64x5", "smaller than one patch"});
  expect_error_contains([&] { q.num_image_tokens(16, 4000); }, {"aspect ratio"});
  // A grid beyond max_pixels (inputs not made by this model's processor).
  ImageInputs big;
  big.image_grid_thw = torch::tensor({int64_t{1}, int64_t{32}, int64_t{32}}, torch::kInt64).view({1, 3});
  big.pixel_values = torch::zeros({1024, q.config.qwen2_5_vl.vision_config.patch_dim()});
  torch::Tensor ids = torch::full({1, 256}, q.image_token_id(), torch::kInt64);
  expect_error_contains([&] { q.forward(ids, torch::Tensor(), big); }, {"max_pixels", "preprocessor_config.json"});
  // Video grids (t > 1) are refused.
  ImageInputs video = q.preprocess_images({gradient_image(64, 64, 0)});
  video.image_grid_thw[0][0] = 2;
  video.pixel_values = torch::cat({video.pixel_values, video.pixel_values});
  expect_error_contains([&] { q.qwen2_5_vl->visual->forward(video.pixel_values, video.image_grid_thw); }, {"video"});
  // Placeholder counts that do not match the images.
  for (PretrainedModel* m : {&q, &iv}) {
    ImageInputs img = m->preprocess_images({gradient_image(64, 64, 0)});
    torch::Tensor short_prompt = torch::full({1, img.tokens[0] - 1}, m->image_token_id(), torch::kInt64);
    expect_error_contains([&] { m->forward(short_prompt, torch::Tensor(), img); }, {"image"});
    torch::Tensor text_only = torch::arange(10, 20, torch::kInt64).unsqueeze(0);
    expect_error_contains([&] { m->forward(text_only, torch::Tensor(), img); }, {"image"});
    torch::Tensor with_tokens = torch::full({1, img.tokens[0]}, m->image_token_id(), torch::kInt64);
    expect_error_contains([&] { m->forward(with_tokens, torch::Tensor(), ImageInputs()); }, {"no images were given"});
  }
}

TEST(VlmBadInput, DynamicRopeRefusesPositionsBeyondTheTrainedRange) {
  torch::NoGradGuard no_grad;
  ModelConfig c = model_preset("tiny-internvl3");
  c.internvl.text_config.max_position_embeddings = 16;
  PretrainedModel m = PretrainedModel::create(c, 1);
  EXPECT_NO_THROW(m.forward(torch::arange(0, 16, torch::kInt64).unsqueeze(0), torch::Tensor(), ImageInputs()));
  expect_error_contains([&] { m.forward(torch::arange(0, 17, torch::kInt64).unsqueeze(0), torch::Tensor(), ImageInputs()); },
                        {"max_position_embeddings", "dynamic"});
}

}  // namespace
}  // namespace ril::model
