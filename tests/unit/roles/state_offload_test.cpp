// roles/state_offload.h (ril train --offload): tensors put away to the scratch file and brought
// back keep their identity (the optimizer's state map, the module and ShardedAdamW hold the same
// objects) and get their exact bytes back, so an AdamW run with the state put away between its
// steps is bitwise a run without; bad uses are refused before anything is freed.
#include "ril/roles/state_offload.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <torch/torch.h>

#include "ril/common/error.h"
#include "support/temp_dir.h"

namespace ril::roles {
namespace {

namespace fs = std::filesystem;

std::vector<torch::Tensor> adamw_moments(torch::optim::AdamW& opt) {
  std::vector<torch::Tensor> out;
  for (const auto& [key, state] : opt.state()) {
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*state);
    out.push_back(s.exp_avg());
    out.push_back(s.exp_avg_sq());
    out.push_back(s.max_exp_avg_sq());  // undefined without amsgrad: skipped
  }
  return out;
}

TEST(StateOffload, RoundTripKeepsIdentityAndBytes) {
  test::TempDir dir;
  const std::string path = dir.path() + "/offload/rank-0000-x.bin";
  torch::manual_seed(3);
  torch::Tensor a = torch::randn({3, 5});
  torch::Tensor b = torch::randint(0, 100, {7}, torch::kInt64);
  torch::Tensor empty = torch::zeros({0});
  const torch::Tensor a0 = a.clone(), b0 = b.clone();
  torch::Tensor alias = a;  // another handle of the same tensor
  {
    StateOffload off(path);
    EXPECT_FALSE(off.away());
    off.put_away({a, b, a, empty, torch::Tensor()});
    EXPECT_TRUE(off.away());
    EXPECT_EQ(off.bytes_away(), 15 * 4 + 7 * 8);
    EXPECT_EQ(a.numel(), 0);
    EXPECT_EQ(alias.numel(), 0);
    EXPECT_TRUE(fs::exists(path));
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(path)), 15 * 4 + 7 * 8);
    EXPECT_THROW(off.put_away({b}), Error);  // already away
    off.bring_back();
    EXPECT_FALSE(off.away());
    EXPECT_TRUE(torch::equal(a, a0));
    EXPECT_TRUE(torch::equal(alias, a0));
    EXPECT_TRUE(torch::equal(b, b0));
    EXPECT_EQ(a.sizes(), a0.sizes());
    off.bring_back();  // nothing away: no-op
    off.put_away({a});  // again
    off.bring_back();
    EXPECT_TRUE(torch::equal(a, a0));
  }
  EXPECT_FALSE(fs::exists(path)) << "the destructor removes the scratch file";
}

TEST(StateOffload, RefusesSharedStorageAndNonContiguous) {
  test::TempDir dir;
  StateOffload off(dir.path() + "/s.bin");
  torch::Tensor base = torch::arange(12, torch::kFloat32);
  EXPECT_THROW(off.put_away({base, base.view({3, 4})}), Error);  // two tensors, one storage
  EXPECT_THROW(off.put_away({torch::ones({4, 3}).t()}), Error);  // not contiguous
  EXPECT_FALSE(off.away());
  EXPECT_EQ(base.numel(), 12) << "a refused put_away frees nothing";
}

TEST(StateOffload, ScratchFileUnwritableFreesNothing) {
  test::TempDir dir;
  fs::create_directories(dir.path() + "/file-not-dir");
  StateOffload off(dir.path() + "/file-not-dir");  // a directory: fopen(..., "wb") fails
  torch::Tensor t = torch::ones({4});
  EXPECT_THROW(off.put_away({t}), Error);
  EXPECT_FALSE(off.away());
  EXPECT_EQ(t.numel(), 4);
}

// AdamW's moments and a module's weights put away between steps (as the learner and D do):
// the same parameters, bit for bit, as the run that keeps them.
TEST(StateOffload, AdamWBetweenStepsIsBitwiseTheResidentRun) {
  test::TempDir dir;
  auto run = [&](bool offload) {
    torch::manual_seed(7);
    torch::nn::Linear lin(8, 4);
    torch::optim::AdamW opt(lin->parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
    StateOffload off(dir.path() + (offload ? "/on.bin" : "/off.bin"));
    for (int step = 0; step < 5; ++step) {
      off.bring_back();
      opt.zero_grad();
      const torch::Tensor x = torch::randn({16, 8});
      lin->forward(x).pow(2).sum().backward();
      opt.step();
      if (offload) {
        release_gradients(lin->parameters());
        std::vector<torch::Tensor> state = adamw_moments(opt);
        for (const auto& p : lin->parameters()) state.push_back(p);
        off.put_away(state);
        EXPECT_EQ(lin->weight.numel(), 0);
      }
    }
    off.bring_back();
    return std::vector<torch::Tensor>{lin->weight.clone(), lin->bias.clone()};
  };
  const auto resident = run(false), offloaded = run(true);
  for (size_t i = 0; i < resident.size(); ++i) {
    EXPECT_TRUE(torch::equal(resident[i], offloaded[i])) << i;
  }
}

}  // namespace
}  // namespace ril::roles
