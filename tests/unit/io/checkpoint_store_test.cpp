// Checkpoints: bitwise state round trips (tensors of every dtype, AdamW, generators), mismatch
// messages, and the store's write protocol under damage, killed writers, retention and rank parts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <thread>

#include "ril/common/error.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_file.h"
#include "ril/io/h5_tensor.h"
#include "ril/io/module_state.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using ril::io::CheckpointStore;
using ril::io::H5File;
using ril::io::NamedTensors;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Same dtype, shape and bytes (NaN payloads and -0 included, unlike at::equal).
bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.detach().cpu().contiguous(), cb = b.detach().cpu().contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ril::Error& e) {
    return e.what();
  }
  return "(no error)";
}

NamedTensors named(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& item : module.named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

// ---------------------------------------------------------------------------- module state

TEST(ModuleState, NamedTensorsOfEveryDtypeRoundTripBitwise) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/state.h5";
  at::Tensor special = at::tensor({0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                                   -std::numeric_limits<float>::quiet_NaN(), 1e-45f});
  // A NaN with a payload: bitwise storage must keep it.
  reinterpret_cast<uint32_t*>(special.data_ptr())[3] = 0x7fc12345u;
  const NamedTensors tensors = {
      {"layer.weight", at::randn({3, 4})},
      {"special", special},
      {"f64", at::randn({2, 2, 2}, at::kDouble)},
      {"bf16", at::randn({5, 7}).to(at::kBFloat16)},
      {"f16", at::randn({6}).to(at::kHalf)},
      {"i64", at::randint(-1000000, 1000000, {4, 3}, at::kLong)},
      {"i32", at::randint(-1000, 1000, {9}, at::kInt)},
      {"u8", at::randint(0, 256, {2, 3, 4}, at::kByte)},
      {"bool", at::rand({4, 4}) > 0.5},
      {"scalar", at::scalar_tensor(3.5)},
      {"empty", at::empty({0, 5})},
      {"transposed", at::randn({4, 6}).t()},
      {"param", at::randn({2, 3}).requires_grad_()},
  };
  {
    H5File file = H5File::create(path, "test");
    ril::io::save_tensors(file, "model", tensors);
  }
  const H5File file = H5File::open(path, "test");
  const NamedTensors back = ril::io::read_tensors(file, "model");
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    const auto it = std::find_if(back.begin(), back.end(), [&](const auto& p) { return p.first == name; });
    ASSERT_NE(it, back.end()) << name;
    EXPECT_TRUE(bitwise_equal(it->second, t)) << name;
  }
  // Into existing tensors (a leaf that requires grad included), bitwise.
  NamedTensors targets;
  for (const auto& [name, t] : tensors) {
    at::Tensor target = at::zeros(t.sizes(), t.options().requires_grad(false));
    if (name == "param") target.requires_grad_();
    targets.emplace_back(name, target);
  }
  ril::io::load_tensors_into(file, "model", targets);
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_TRUE(bitwise_equal(targets[i].second, tensors[i].second)) << tensors[i].first;
  }
  EXPECT_TRUE(targets.back().second.requires_grad());
}

TEST(ModuleState, MismatchListsMissingUnexpectedAndMisshapedAndChangesNothing) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/state.h5";
  {
    H5File file = H5File::create(path, "test");
    ril::io::save_tensors(file, "model", {{"fc.weight", at::ones({2, 3})},
                                          {"fc.bias", at::ones({4})},
                                          {"old.gone", at::ones({5})},
                                          {"same", at::ones({2})}});
  }
  const H5File file = H5File::open(path, "test");
  const NamedTensors targets = {{"fc.weight", at::zeros({3, 2})},
                                {"fc.bias", at::zeros({4}, at::kDouble)},
                                {"new.layer", at::zeros({7, 1})},
                                {"same", at::zeros({2})}};
  const std::string e = error_of([&] { ril::io::load_tensors_into(file, "model", targets); });
  EXPECT_NE(e.find("missing from the checkpoint (1): new.layer float32 [7,1]"), std::string::npos) << e;
  EXPECT_NE(e.find("unexpected in the checkpoint (1): old.gone float32 [5]"), std::string::npos) << e;
  EXPECT_NE(e.find("fc.weight: checkpoint float32 [2,3] vs target float32 [3,2]"), std::string::npos) << e;
  EXPECT_NE(e.find("fc.bias: checkpoint float32 [4] vs target float64 [4]"), std::string::npos) << e;
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_EQ(e.find("same"), std::string::npos) << e;
  // All-or-nothing: even the matching tensor was not touched.
  EXPECT_TRUE(at::equal(targets[3].second, at::zeros({2})));
}

// Trains `model` for `steps` steps of AdamW on a fixed regression batch.
void train(torch::nn::Linear& model, torch::optim::AdamW& optimizer, const at::Tensor& x, const at::Tensor& y,
           int steps) {
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    const at::Tensor loss = (model->forward(x) - y).pow(2).mean();
    loss.backward();
    optimizer.step();
  }
}

// Two groups: weights plain, bias with amsgrad and its own lr, so every stored option matters.
torch::optim::AdamW make_adamw(torch::nn::Linear& model, double lr_scale) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{model->weight},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(0.01 * lr_scale).betas(std::make_tuple(0.8, 0.95)).weight_decay(0.1)));
  groups.emplace_back(std::vector<at::Tensor>{model->bias},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(0.003 * lr_scale).eps(1e-6).amsgrad(true)));
  return torch::optim::AdamW(std::move(groups));
}

TEST(ModuleState, AdamWResumeIsBitwiseIdenticalToNotStopping) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/ckpt.h5";
  at::manual_seed(7);
  const at::Tensor x = at::randn({16, 5}), y = at::randn({16, 3});
  torch::nn::Linear reference(5, 3);
  torch::nn::Linear stopped(5, 3);
  {
    at::NoGradGuard no_grad;
    stopped->weight.copy_(reference->weight);
    stopped->bias.copy_(reference->bias);
  }
  auto reference_opt = make_adamw(reference, 1.0);
  train(reference, reference_opt, x, y, 6);

  auto stopped_opt = make_adamw(stopped, 1.0);
  train(stopped, stopped_opt, x, y, 3);
  {
    H5File file = H5File::create(path, "checkpoint");
    ril::io::save_tensors(file, "student/params", named(*stopped));
    ril::io::save_adamw(file, "student/adamw", stopped_opt, named(*stopped));
  }
  // A fresh model (other initial values) and optimizer (other learning rates) in its place.
  torch::nn::Linear resumed(5, 3);
  auto resumed_opt = make_adamw(resumed, 10.0);
  {
    const H5File file = H5File::open(path, "checkpoint");
    ril::io::load_tensors_into(file, "student/params", named(*resumed));
    ril::io::load_adamw(file, "student/adamw", resumed_opt, named(*resumed));
  }
  train(resumed, resumed_opt, x, y, 3);
  EXPECT_TRUE(bitwise_equal(resumed->weight, reference->weight))
      << "max diff " << (resumed->weight - reference->weight).abs().max().item<float>();
  EXPECT_TRUE(bitwise_equal(resumed->bias, reference->bias))
      << "max diff " << (resumed->bias - reference->bias).abs().max().item<float>();
  // The continuation differs from not restoring the optimizer (the test can fail).
  torch::nn::Linear fresh_state(5, 3);
  auto fresh_opt = make_adamw(fresh_state, 1.0);
  {
    const H5File file = H5File::open(path, "checkpoint");
    ril::io::load_tensors_into(file, "student/params", named(*fresh_state));
  }
  train(fresh_state, fresh_opt, x, y, 3);
  EXPECT_FALSE(bitwise_equal(fresh_state->weight, reference->weight));
}

TEST(ModuleState, AdamWLoadNamesDifferentParameters) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/ckpt.h5";
  torch::nn::Linear model(2, 2);
  auto opt = make_adamw(model, 1.0);
  train(model, opt, at::ones({1, 2}), at::zeros({1, 2}), 1);
  {
    H5File file = H5File::create(path, "checkpoint");
    ril::io::save_adamw(file, "adamw", opt, named(*model));
  }
  torch::nn::Linear other(2, 2);
  auto other_opt = make_adamw(other, 1.0);
  NamedTensors renamed = {{"w", other->weight}, {"bias", other->bias}};
  const H5File file = H5File::open(path, "checkpoint");
  const std::string e = error_of([&] { ril::io::load_adamw(file, "adamw", other_opt, renamed); });
  EXPECT_NE(e.find("only in checkpoint: weight"), std::string::npos) << e;
  EXPECT_NE(e.find("only in optimizer: w"), std::string::npos) << e;
  EXPECT_TRUE(other_opt.state().empty());
}

TEST(ModuleState, GeneratorCountersAndTextRoundTrip) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/rng.h5";
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  (void)at::randn({10}, gen);  // advance past the seed state, normal-cache included
  const std::string config = "[train]\nlr = 1e-4\nname = größe 🙂\n";
  {
    H5File file = H5File::create(path, "checkpoint");
    ril::io::save_generator(file, "rank/rng", gen);
    ril::io::write_int64(file, "rank/data_cursor", 9'000'000'000LL);
    ril::io::write_int64(file, "step", -3);
    ril::io::write_string(file, "config", config);
    ril::io::write_string(file, "metrics", "");
  }
  const at::Tensor expected_normal = at::randn({7}, gen);
  const at::Tensor expected_uniform = at::rand({5}, gen);
  const at::Tensor expected_ints = at::randint(0, 1000, {5}, gen);

  const H5File file = H5File::open(path, "checkpoint");
  at::Generator other = at::make_generator<at::CPUGeneratorImpl>(99);
  ril::io::load_generator(file, "rank/rng", other);
  EXPECT_TRUE(bitwise_equal(at::randn({7}, other), expected_normal));
  EXPECT_TRUE(bitwise_equal(at::rand({5}, other), expected_uniform));
  EXPECT_TRUE(bitwise_equal(at::randint(0, 1000, {5}, other), expected_ints));
  EXPECT_EQ(ril::io::read_int64(file, "rank/data_cursor"), 9'000'000'000LL);
  EXPECT_EQ(ril::io::read_int64(file, "step"), -3);
  EXPECT_EQ(ril::io::read_string(file, "config"), config);
  EXPECT_EQ(ril::io::read_string(file, "metrics"), "");
}

// ---------------------------------------------------------------------------- checkpoint store

// Each checkpoint holds its step as a dataset, so tests can tell which one they got.
ril::io::CheckpointFill fill_step(int64_t step) {
  return [step](H5File& file) { ril::io::write_int64(file, "value", step * 10); };
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CheckpointStore, WritesPointerLastAndKeepsTheNewestK) {
  ril::test::TempDir dir;
  CheckpointStore store(dir.path(), {/*keep_last=*/3});
  EXPECT_FALSE(store.find_latest().has_value());
  for (int64_t step = 1; step <= 5; ++step) store.write(step * 100, fill_step(step * 100));
  EXPECT_EQ(names_in(store.directory()),
            (std::vector<std::string>{"latest", "step-000300.h5", "step-000400.h5", "step-000500.h5"}));
  EXPECT_EQ(read_all(store.latest_pointer_path()), "step-000500.h5\n");
  const auto latest = store.find_latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 500);
  EXPECT_EQ(latest->path, store.main_path(500));
  const H5File file = H5File::open(latest->path, ril::io::kCheckpointKind);
  EXPECT_EQ(ril::io::read_int64(file, "value"), 5000);
  EXPECT_EQ(file.attr_int("/", "complete"), 1);

  // keep_last 0 keeps everything.
  ril::test::TempDir all_dir;
  CheckpointStore keep_all(all_dir.path(), {/*keep_last=*/0});
  for (int64_t step = 1; step <= 5; ++step) keep_all.write(step, fill_step(step));
  EXPECT_EQ(keep_all.list_complete().size(), 5u);
}

TEST(CheckpointStore, FailedFillLeavesNothingBehind) {
  ril::test::TempDir dir;
  CheckpointStore store(dir.path());
  store.write(1, fill_step(1));
  EXPECT_THROW(store.write(2, [](H5File&) { throw ril::Error("out of memory while gathering"); }), ril::Error);
  EXPECT_EQ(names_in(store.directory()), (std::vector<std::string>{"latest", "step-000001.h5"}));
  EXPECT_EQ(store.find_latest()->step, 1);
}

TEST(CheckpointStore, TruncatedNewestFallsBackWithAWarningAndIsLeftAlone) {
  ril::test::TempDir dir;
  CheckpointStore store(dir.path(), {/*keep_last=*/3});
  for (int64_t step = 1; step <= 3; ++step) store.write(step, fill_step(step));
  const std::string damaged = store.main_path(3);
  fs::resize_file(damaged, fs::file_size(damaged) / 2);
  const std::string bytes = read_all(damaged);

  testing::internal::CaptureStderr();
  const auto latest = store.find_latest();
  const std::string log = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 2);
  EXPECT_NE(log.find("[ckpt]"), std::string::npos) << log;
  EXPECT_NE(log.find(damaged), std::string::npos) << log;
  EXPECT_NE(log.find("truncated"), std::string::npos) << log;
  EXPECT_NE(log.find("left as it is"), std::string::npos) << log;
  EXPECT_EQ(read_all(damaged), bytes);

  // Later writes neither count nor delete it: with K = 3, steps 1 goes only after 4 and 5.
  store.write(4, fill_step(4));
  store.write(5, fill_step(5));
  EXPECT_EQ(names_in(store.directory()), (std::vector<std::string>{"latest", "step-000002.h5", "step-000003.h5",
                                                                   "step-000004.h5", "step-000005.h5"}));
  EXPECT_EQ(read_all(damaged), bytes);
  EXPECT_EQ(store.find_latest()->step, 5);

  // Writing the damaged step again moves the damaged file aside rather than over-writing it.
  store.write(3, fill_step(3));
  bool found_aside = false;
  for (const std::string& name : names_in(store.directory())) {
    if (name.rfind("step-000003.h5.damaged.", 0) == 0) {
      found_aside = true;
      EXPECT_EQ(read_all(store.directory() + "/" + name), bytes);
    }
  }
  EXPECT_TRUE(found_aside);
}

TEST(CheckpointStore, MissingCompleteAttributeAndBadPointerAreSkipped) {
  ril::test::TempDir dir;
  CheckpointStore store(dir.path());
  store.write(1, fill_step(1));
  store.write(2, fill_step(2));
  {  // A file that looks like a checkpoint but whose writer never finished.
    H5File file = H5File::create(store.main_path(3), ril::io::kCheckpointKind);
    file.set_attr("/", "step", int64_t{3});
    file.set_attr("/", "world_size", int64_t{1});
  }
  testing::internal::CaptureStderr();
  EXPECT_EQ(store.find_latest()->step, 2);  // the pointer names 2
  std::ofstream(store.latest_pointer_path()) << "not-a-checkpoint\n";
  EXPECT_EQ(store.find_latest()->step, 2);  // newest complete
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("not-a-checkpoint"), std::string::npos) << log;
  EXPECT_NE(log.find("no 'complete' attribute"), std::string::npos) << log;
}

// A writer killed with SIGKILL in the middle of a checkpoint: `latest` still names the previous
// checkpoint, which opens; the temporary file is ignored.
TEST(CheckpointStore, KilledWriterLeavesTheLatestCheckpointValid) {
  ril::test::TempDir dir;
  CheckpointStore store(dir.path(), {/*keep_last=*/3});
  store.write(1, fill_step(1));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      // Two full 16 MiB checkpoints, then a third that grows forever; the parent kills it.
      std::vector<uint8_t> block(1 << 20, 7);
      for (int64_t step = 10;; ++step) {
        store.write(step, [&](H5File& file) {
          ril::io::DatasetOptions grow;
          grow.extendable = true;
          grow.compression = 0;
          file.write_array("blob", ril::io::ElementType::kUInt8, {0}, nullptr, grow);
          for (int i = 0; step >= 12 || i < 16; ++i) {
            file.append_rows("blob", static_cast<int64_t>(block.size()), block.data());
            file.flush();
          }
        });
      }
    } catch (...) {
    }
    _exit(1);  // only on failure: the parent then reports that no third checkpoint was reached
  }
  const std::string temp = store.main_path(12) + ".tmp." + std::to_string(child);
  for (int i = 0; i < 3000; ++i) {
    std::error_code ec;
    if (fs::exists(temp, ec) && fs::file_size(temp, ec) > (4u << 20)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  ASSERT_TRUE(fs::exists(temp)) << "the writer never reached its third checkpoint";

  EXPECT_EQ(read_all(store.latest_pointer_path()), "step-000011.h5\n");
  const auto latest = store.find_latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 11);
  EXPECT_EQ(H5File::open(latest->path, ril::io::kCheckpointKind).shape("blob"), (std::vector<int64_t>{16 << 20}));
  // The stale temporary is no checkpoint; the next writer of that step (another pid) removes it,
  // as its writer is dead (AtomicFile cleans its target's temporaries of dead PIDs).
  store.write(12, fill_step(12));
  EXPECT_EQ(store.find_latest()->step, 12);
  EXPECT_FALSE(fs::exists(temp));
  std::vector<int64_t> steps;
  for (const auto& info : store.list_complete()) steps.push_back(info.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{10, 11, 12}));
}

TEST(CheckpointStore, RankPartsMustAllExistForTheStepToCount) {
  ril::test::TempDir dir;
  CheckpointStore store(dir.path());
  constexpr int kWorld = 4;
  auto write_rank = [&](int64_t step, int rank) {
    store.write_rank(step, rank, kWorld, [&](H5File& file) {
      ril::io::write_int64(file, "data_cursor", step * 1000 + rank);
    });
  };
  for (int r = 0; r < kWorld; ++r) write_rank(1, r);
  store.write(1, fill_step(1), kWorld);
  auto latest = store.find_latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->world_size, kWorld);
  ASSERT_EQ(latest->rank_paths.size(), 4u);
  EXPECT_EQ(latest->rank_paths[3], store.rank_path(1, 3));
  EXPECT_EQ(store.rank_path(1, 3), store.directory() + "/step-000001.rank-0003.h5");
  {
    const H5File part = H5File::open(latest->rank_paths[2], ril::io::kCheckpointRankKind);
    EXPECT_EQ(ril::io::read_int64(part, "data_cursor"), 1002);
  }

  // Step 2 with rank 2 missing: the main file is refused.
  for (int r : {0, 1, 3}) write_rank(2, r);
  const std::string e = error_of([&] { store.write(2, fill_step(2), kWorld); });
  EXPECT_NE(e.find("step-000002.rank-0002.h5"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(store.main_path(2)));
  EXPECT_EQ(store.find_latest()->step, 1);

  // Complete it, then lose a part: step 2 no longer counts.
  write_rank(2, 2);
  store.write(2, fill_step(2), kWorld);
  EXPECT_EQ(store.find_latest()->step, 2);
  fs::remove(store.rank_path(2, 2));
  EXPECT_NE(store.check(2).find("rank 2 part"), std::string::npos) << store.check(2);
  testing::internal::CaptureStderr();
  latest = store.find_latest();
  const std::string log = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 1);
  EXPECT_NE(log.find("step-000002.h5"), std::string::npos) << log;
  EXPECT_NE(log.find("rank-0002"), std::string::npos) << log;

  // Pruning removes rank parts with their main file.
  CheckpointStore keep_one(dir.path(), {/*keep_last=*/1});
  for (int r = 0; r < kWorld; ++r) write_rank(3, r);
  keep_one.write(3, fill_step(3), kWorld);
  EXPECT_FALSE(fs::exists(store.main_path(1)));
  for (int r = 0; r < kWorld; ++r) EXPECT_FALSE(fs::exists(store.rank_path(1, r))) << r;
  EXPECT_TRUE(fs::exists(store.main_path(2)));  // incomplete: not deleted
}

}  // namespace
