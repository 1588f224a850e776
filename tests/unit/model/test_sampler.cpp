// Sampling on tiny distributions whose answers can be checked by hand (llama.cpp style).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "ril/common/error.h"
#include "ril/model/sampler.h"

namespace ril::model {
namespace {

torch::Tensor row(std::vector<float> v) { return torch::tensor(v).unsqueeze(0); }

// Indices of the finite entries of a [1, V] tensor.
std::vector<int64_t> kept(const torch::Tensor& logits) {
  std::vector<int64_t> out;
  auto a = logits.squeeze(0);
  for (int64_t i = 0; i < a.size(0); ++i) {
    if (std::isfinite(a[i].item<float>())) out.push_back(i);
  }
  return out;
}

torch::Tensor log_probs(std::vector<float> p) { return torch::tensor(p).log().unsqueeze(0); }

TEST(Sampler, TopKKeepsTheKLargest) {
  EXPECT_EQ(kept(top_k_filter(row({1, 3, 2, 5, 4}), 2)), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(kept(top_k_filter(row({1, 3, 2, 5, 4}), 1)), (std::vector<int64_t>{3}));
  // Ties at the k-th value are kept (HF: remove only logits < k-th largest).
  EXPECT_EQ(kept(top_k_filter(row({3, 2, 2, 0}), 2)), (std::vector<int64_t>{0, 1, 2}));
  // k = 0 or k >= V: unchanged.
  EXPECT_EQ(kept(top_k_filter(row({1, 2, 3}), 0)).size(), 3u);
  EXPECT_EQ(kept(top_k_filter(row({1, 2, 3}), 7)).size(), 3u);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // p = {0.5, 0.3, 0.15, 0.05}; ascending cumulative 0.05, 0.20, 0.50, 1.0
  const auto lp = log_probs({0.5f, 0.3f, 0.15f, 0.05f});
  EXPECT_EQ(kept(top_p_filter(lp, 0.9)), (std::vector<int64_t>{0, 1, 2}));   // drop cum <= 0.1
  EXPECT_EQ(kept(top_p_filter(lp, 0.75)), (std::vector<int64_t>{0, 1}));     // drop cum <= 0.25
  EXPECT_EQ(kept(top_p_filter(lp, 0.3)), (std::vector<int64_t>{0}));         // drop cum <= 0.7
  EXPECT_EQ(kept(top_p_filter(lp, 0.01)), (std::vector<int64_t>{0}));        // always keep top
  EXPECT_EQ(kept(top_p_filter(lp, 1.0)).size(), 4u);
  // Order in the vocabulary does not matter.
  EXPECT_EQ(kept(top_p_filter(log_probs({0.05f, 0.3f, 0.15f, 0.5f}), 0.75)),
            (std::vector<int64_t>{1, 3}));
}

TEST(Sampler, TemperatureDividesLogits) {
  SamplingOptions o;
  o.temperature = 2.0;
  // p proportional to 1:4 -> at T=2, 1:2
  auto probs = process_logits(row({0.0f, 2.0f * std::log(2.0f)}), {}, o).softmax(-1);
  EXPECT_NEAR(probs[0][0].item<float>(), 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(probs[0][1].item<float>(), 2.0 / 3.0, 1e-6);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  auto presence = torch::tensor({true, true, false, false}).unsqueeze(0);
  auto out = apply_repetition_penalty(row({2, -2, 1, 0.5}), presence, 2.0);
  EXPECT_TRUE(torch::equal(out, row({1, -4, 1, 0.5})));
  // Applied before temperature, and also in greedy mode (HF: a logits processor).
  SamplingOptions o;
  o.do_sample = false;
  o.repetition_penalty = 4.0;
  auto greedy = process_logits(row({2, 1.5, -1}), torch::tensor({true, false, false}).unsqueeze(0), o);
  EXPECT_EQ(greedy.argmax(-1).item<int64_t>(), 1);  // 2 / 4 = 0.5 < 1.5
}

TEST(Sampler, ProcessingOrderIsPenaltyTemperatureTopKTopP) {
  SamplingOptions o;
  o.repetition_penalty = 2.0;
  o.temperature = 0.5;
  o.top_k = 3;
  o.top_p = 0.9;
  // logits {4, 3, 2, 1, 0}, token 0 present -> {2, 3, 2, 1, 0} -> /0.5 -> {4, 6, 4, 2, 0}
  // top-3 keeps {0, 1, 2}; p over them = e^4, e^6, e^4 normalised = {0.1065, 0.7870, 0.1065};
  // ascending cumulative 0.1065, 0.2130, 1.0 -> top-p 0.9 removes cum <= 0.1: nothing more.
  auto presence = torch::tensor({true, false, false, false, false}).unsqueeze(0);
  auto out = process_logits(row({4, 3, 2, 1, 0}), presence, o);
  EXPECT_EQ(kept(out), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_FLOAT_EQ(out[0][1].item<float>(), 6.0f);
  o.top_p = 0.7;  // removes cum <= 0.3: both 0.1065 entries -> only token 1 left
  EXPECT_EQ(kept(process_logits(row({4, 3, 2, 1, 0}), presence, o)), (std::vector<int64_t>{1}));
}

TEST(Sampler, FrequenciesMatchProbabilitiesAndZeroIsNeverDrawn) {
  SamplingOptions o;
  Sampler sampler(o, make_cpu_generator(7));
  const int64_t n = 40000;
  auto logits = log_probs({0.5f, 0.3f, 0.2f, 0.0f}).expand({n, 4}).contiguous();  // log 0 = -inf
  auto tokens = sampler.select(logits);
  auto counts = torch::bincount(tokens, {}, 4).to(torch::kFloat64) / n;
  EXPECT_NEAR(counts[0].item<double>(), 0.5, 0.01);
  EXPECT_NEAR(counts[1].item<double>(), 0.3, 0.01);
  EXPECT_NEAR(counts[2].item<double>(), 0.2, 0.01);
  EXPECT_EQ(counts[3].item<double>(), 0.0);
}

TEST(Sampler, FilteredTokensAreNeverDrawn) {
  SamplingOptions o;
  o.top_k = 1;
  Sampler sampler(o, make_cpu_generator(1));
  auto logits = torch::randn({1000, 50}, torch::TensorOptions().dtype(torch::kFloat32));
  auto tokens = sampler.select(process_logits(logits, {}, o));
  EXPECT_TRUE(torch::equal(tokens, logits.argmax(-1)));
}

TEST(Sampler, DeterministicUnderSeed) {
  SamplingOptions o;
  auto logits = torch::zeros({64, 100});
  Sampler a(o, make_cpu_generator(42)), b(o, make_cpu_generator(42)), c(o, make_cpu_generator(43));
  auto ta = a.select(logits), tb = b.select(logits), tc = c.select(logits);
  EXPECT_TRUE(torch::equal(ta, tb));
  EXPECT_FALSE(torch::equal(ta, tc));
  // The global RNG is not involved: reseeding it changes nothing.
  torch::manual_seed(0);
  Sampler d(o, make_cpu_generator(42));
  torch::manual_seed(999);
  EXPECT_TRUE(torch::equal(d.select(logits), ta));
}

// One generator per row: a batch of rows samples, step after step, what each row samples alone
// (a batch of one) from a generator of the same seed; one shared generator does not.
TEST(Sampler, PerRowGeneratorsDrawWhatEachRowDrawsAlone) {
  SamplingOptions o;
  o.temperature = 0.9;
  o.top_k = 20;
  o.top_p = 0.9;
  const std::vector<uint64_t> seeds = {5, 17, 5, 99};  // rows 0 and 2 share a seed (and logits)
  std::vector<at::Generator> per_row;
  std::vector<Sampler> alone;
  for (uint64_t s : seeds) {
    per_row.push_back(make_cpu_generator(s));
    alone.emplace_back(o, make_cpu_generator(s));
  }
  Sampler batch(o, SamplingGenerators(per_row));
  Sampler shared(o, make_cpu_generator(5));
  torch::manual_seed(3);
  int64_t shared_differs = 0;
  for (int step = 0; step < 40; ++step) {
    torch::Tensor logits = torch::randn({4, 50});
    logits[2].copy_(logits[0]);
    const torch::Tensor processed = process_logits(logits, {}, o);
    const torch::Tensor tokens = batch.select(processed);
    for (size_t i = 0; i < seeds.size(); ++i) {
      const int64_t row = static_cast<int64_t>(i);
      EXPECT_EQ(tokens[row].item<int64_t>(), alone[i].select(processed.narrow(0, row, 1))[0].item<int64_t>())
          << "step " << step << ", row " << row;
    }
    EXPECT_EQ(tokens[0].item<int64_t>(), tokens[2].item<int64_t>()) << "step " << step;
    shared_differs += !torch::equal(shared.select(processed), tokens);
  }
  EXPECT_GT(shared_differs, 0);  // the test can tell the two kinds of generator apart
}

TEST(Sampler, PerRowGeneratorsMustMatchTheRows) {
  SamplingOptions o;
  Sampler s(o, SamplingGenerators(std::vector<at::Generator>{make_cpu_generator(1), make_cpu_generator(2)}));
  try {
    s.select(torch::zeros({3, 10}));
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("3 rows but 2 per-row generators"), std::string::npos) << e.what();
  }
}

TEST(Sampler, GreedyIsArgmax) {
  SamplingOptions o;
  o.do_sample = false;
  Sampler s(o, make_cpu_generator(0));
  EXPECT_EQ(s.select(row({0.1f, 0.7f, 0.2f})).item<int64_t>(), 1);
}

TEST(Sampler, BadOptionsNameTheField) {
  SamplingOptions o;
  o.top_p = 1.5;
  try {
    o.validate();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos) << e.what();
  }
  o = SamplingOptions{};
  o.temperature = 0;
  EXPECT_THROW(o.validate(), ConfigError);
}

}  // namespace
}  // namespace ril::model
