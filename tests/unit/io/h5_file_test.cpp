// The HDF5 store: exact round trips, growing datasets, and every bad file named clearly.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "ril/common/error.h"
#include "ril/io/atomic_file.h"
#include "ril/io/file_summary.h"
#include "ril/io/h5_file.h"
#include "ril/io/h5_tensor.h"
#include "support/temp_dir.h"

namespace {

using ril::io::H5File;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string open_error(const std::string& path, const std::string& kind = "") {
  try {
    H5File::open(path, kind);
  } catch (const ril::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(H5File, TensorsOfEveryDtypeRoundTripBitwise) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/t.h5";
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", at::randn({3, 4})},
      {"f64", at::randn({2, 2, 2}, at::kDouble)},
      {"bf16", at::randn({5, 7}).to(at::kBFloat16)},
      {"f16", at::randn({6}).to(at::kHalf)},
      {"i64", at::randint(-1000000, 1000000, {4, 3}, at::kLong)},
      {"i32", at::randint(-1000, 1000, {9}, at::kInt)},
      {"u8", at::randint(0, 256, {2, 3, 4}, at::kByte)},
      {"bool", at::rand({4, 4}) > 0.5},
      {"scalar", at::scalar_tensor(3.5)},
      {"empty", at::empty({0, 5})},
      {"noncontiguous", at::randn({4, 6}).t()},
  };
  {
    H5File file = H5File::create(path, "test");
    for (const auto& [name, t] : tensors) ril::io::write_tensor(file, "group/" + name, t);
  }
  const H5File file = H5File::open(path, "test");
  for (const auto& [name, t] : tensors) {
    const at::Tensor back = ril::io::read_tensor(file, "group/" + name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back.sizes(), t.sizes()) << name;
    EXPECT_TRUE(at::equal(back, t.contiguous())) << name;
  }
}

TEST(H5File, TextWithNonAsciiEmptyAndVeryLongStrings) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/text.h5";
  const std::string long_text(3'000'000, 'x');
  std::vector<std::string> texts = {"plain", "", "größer 大きい 🙂 عربى", long_text, std::string("nul\0inside", 10), ""};
  {
    H5File file = H5File::create(path, "test");
    file.write_text("responses", {texts[0], texts[1]});
    file.append_text("responses", {texts[2], texts[3]});
    file.append_text("responses", {texts[4], texts[5]});
    file.append_text("responses", {});
  }
  const H5File file = H5File::open(path);
  EXPECT_EQ(file.text_count("responses"), 6);
  EXPECT_EQ(file.read_text("responses"), texts);
  EXPECT_EQ(file.read_text("responses", 2, 2), std::vector<std::string>({texts[2], texts[3]}));
  EXPECT_THROW(file.read_text("responses", 5, 2), ril::Error);
}

TEST(H5File, RaggedIdsExtendableRowsAndAttributes) {
  ril::test::TempDir dir;
  const std::string path = dir.path() + "/rows.h5";
  {
    H5File file = H5File::create(path, "test");
    file.append_ragged("ids", {{1, 2, 3}, {}, {42}});
    file.append_ragged("ids", {{7, 8}});
    ril::io::DatasetOptions grow;
    grow.extendable = true;
    grow.chunk_rows = 2;
    const std::vector<float> first = {1, 2, 3, 4, 5, 6};
    file.write_array("images", ril::io::ElementType::kFloat32, {2, 3}, first.data(), grow);
    const std::vector<float> more = {7, 8, 9};
    EXPECT_EQ(file.append_rows("images", 1, more.data()), 3);
    file.set_attr("/", "name", std::string("größe"));
    file.set_attr("images", "count", int64_t{3});
    file.set_attr("images", "scale", 0.25);
    file.set_attr("images", "count", int64_t{4});  // overwrite
  }
  const H5File file = H5File::open(path);
  EXPECT_EQ(file.read_ragged("ids"), (std::vector<std::vector<int32_t>>{{1, 2, 3}, {}, {42}, {7, 8}}));
  EXPECT_EQ(file.read_ragged("ids", 1, 2), (std::vector<std::vector<int32_t>>{{}, {42}}));
  const auto rows = file.read_rows("images", 1, 2);
  EXPECT_EQ(rows.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::vector<float>(rows.as<float>(), rows.as<float>() + 6), (std::vector<float>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(file.attr_string("/", "name"), "größe");
  EXPECT_EQ(file.attr_int("images", "count"), 4);
  EXPECT_DOUBLE_EQ(file.attr_double("images", "scale"), 0.25);
  const auto info = file.dataset_info("images");
  EXPECT_TRUE(info.extendable);
  EXPECT_EQ(info.chunk, (std::vector<int64_t>{2, 3}));
  EXPECT_GT(info.compression, 0);
  const std::string summary = ril::io::summarize_file(path);
  EXPECT_NE(summary.find("ril test file, format_version 1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("ids/: token ids, 4 rows"), std::string::npos) << summary;
}

TEST(H5File, BadFilesGetActionableErrors) {
  ril::test::TempDir dir;
  const std::string good = dir.path() + "/good.h5";
  {
    H5File file = H5File::create(good, "dataset");
    file.write_text("question", std::vector<std::string>(2000, "How many red squares are there?"));
  }
  EXPECT_NE(open_error(dir.path() + "/missing.h5").find("file not found"), std::string::npos);

  const std::string text_file = dir.path() + "/notes.h5";
  std::ofstream(text_file) << "this is not HDF5\n";
  EXPECT_NE(open_error(text_file).find("is not an HDF5 file"), std::string::npos);

  const std::string truncated = dir.path() + "/truncated.h5";
  const std::string bytes = read_all(good);
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const std::string e_trunc = open_error(truncated);
  EXPECT_NE(e_trunc.find("damaged or truncated"), std::string::npos) << e_trunc;

  const std::string plain = dir.path() + "/plain.h5";
  {
    const hid_t f = H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Fclose(f);
  }
  EXPECT_NE(open_error(plain).find("not a ril file"), std::string::npos);

  const std::string future = dir.path() + "/future.h5";
  {
    H5File file = H5File::create(future, "dataset");
    file.set_attr("/", "format_version", int64_t{99});
  }
  const std::string e_version = open_error(future);
  EXPECT_NE(e_version.find("format_version 99"), std::string::npos) << e_version;
  EXPECT_NE(e_version.find("newer ril"), std::string::npos) << e_version;

  const std::string e_kind = open_error(good, "checkpoint");
  EXPECT_NE(e_kind.find("is a ril 'dataset' file, but a 'checkpoint' file is needed"), std::string::npos) << e_kind;
  // None of this touched the good file.
  EXPECT_EQ(read_all(good), bytes);
  EXPECT_THROW(H5File::create(good, "dataset"), ril::Error);  // no silent overwrite
  EXPECT_EQ(read_all(good), bytes);
}

// A writer killed with SIGKILL mid-write leaves the previous file intact and readable.
TEST(AtomicFile, KilledWriterLeavesTheOldFileIntact) {
  ril::test::TempDir dir;
  const std::string target = dir.path() + "/state.h5";
  {
    ril::io::AtomicFile atomic(target);
    {
      H5File file = H5File::create(atomic.temp_path(), "checkpoint");
      file.write_text("notes", {"version 1"});
    }
    atomic.commit();
  }
  const std::string before = read_all(target);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Writes a growing replacement forever; the parent kills it part-way.
    ril::io::AtomicFile atomic(target);
    H5File file = H5File::create(atomic.temp_path(), "checkpoint");
    std::vector<uint8_t> block(1 << 16, 7);
    ril::io::DatasetOptions grow;
    grow.extendable = true;
    file.write_array("blob", ril::io::ElementType::kUInt8, {0}, nullptr, grow);
    for (;;) {
      file.append_rows("blob", static_cast<int64_t>(block.size()), block.data());
      file.flush();
    }
  }
  const std::string temp = target + ".tmp." + std::to_string(child);
  for (int i = 0; i < 200 && (!std::filesystem::exists(temp) || std::filesystem::file_size(temp) < (1 << 20)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(temp)) << "the writer never started";
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(read_all(target), before);
  const H5File file = H5File::open(target, "checkpoint");
  EXPECT_EQ(file.read_text("notes"), std::vector<std::string>{"version 1"});
}

}  // namespace
