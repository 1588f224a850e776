// Helpers shared by the model tests.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ril/model/generator.h"
#include "ril/model/model_config.h"
#include "ril/model/sampler.h"

namespace ril::model::testing {

inline std::string fixtures_dir() {
  const char* env = std::getenv("RIL_FIXTURES");
  if (env != nullptr && *env != '\0') return std::string(env) + "/model";
  const char* src = std::getenv("RIL_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/tests/fixtures/model";
}

// A fresh directory under the test temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("ril_model_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& leaf) const { return (path_ / leaf).string(); }

 private:
  std::filesystem::path path_;
};

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Left-pads 1-D int64 prompts into ids [B, P] (pad value `pad`) and mask [B, P].
inline std::pair<torch::Tensor, torch::Tensor> left_pad(const std::vector<torch::Tensor>& prompts,
                                                        int64_t pad = 0) {
  int64_t p = 0;
  for (const auto& t : prompts) p = std::max(p, t.size(0));
  const int64_t b = static_cast<int64_t>(prompts.size());
  auto ids = torch::full({b, p}, pad, torch::kInt64);
  auto mask = torch::zeros({b, p}, torch::kInt64);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t n = prompts[i].size(0);
    ids[i].narrow(0, p - n, n).copy_(prompts[i]);
    mask[i].narrow(0, p - n, n).fill_(1);
  }
  return {ids, mask};
}

// Expects `fn` to throw a std::exception whose message contains every one of `needles`.
template <typename Fn>
void expect_error_contains(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) {
      EXPECT_NE(msg.find(n), std::string::npos) << "message lacks '" << n << "':\n" << msg;
    }
  }
}

// Tiny preset with a wider init than HF's 0.02 so that greedy choices are not near-ties.
inline Qwen2ForCausalLM tiny_lm(uint64_t seed = 1) {
  Qwen2ForCausalLM lm(model_preset("tiny").qwen2);
  init_parameters(*lm, 0.1, seed);
  lm->eval();
  return lm;
}

// Random prompts of the given lengths, ids in [3, vocab).
inline std::vector<torch::Tensor> random_prompts(const std::vector<int64_t>& lengths, int64_t vocab, uint64_t seed) {
  at::Generator gen = make_cpu_generator(seed);
  std::vector<torch::Tensor> out;
  for (int64_t n : lengths) out.push_back(torch::randint(3, vocab, {n}, gen, torch::kInt64));
  return out;
}

// The prompts left-padded into one generation input.
inline GenerationInput batch_input(const std::vector<torch::Tensor>& prompts) {
  auto [ids, mask] = left_pad(prompts);
  GenerationInput in;
  in.input_ids = ids;
  in.attention_mask = mask;
  return in;
}

}  // namespace ril::model::testing
