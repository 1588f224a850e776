// locate_checkpoint (io/checkpoint_store.h) and checkpoint_origin (io/checkpoint_schema.h): what
// `--resume PATH` needs (issue 13): a checkpoint file moved out of its run's checkpoints/ folder
// still resumes; a folder resolves to its newest complete checkpoint; a wrong name, a missing file
// or an incomplete one is a ConfigError that says so; and a checkpoint says which command wrote it.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ril/common/error.h"
#include "ril/io/checkpoint_schema.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_file.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using ril::io::CheckpointStore;

// A checkpoint of `step` with a stage ("ril", "disc", "sft"), or as `ril sft` wrote it before the
// schema (stage "": the resolved configuration only).
std::string write_checkpoint(const std::string& run_dir, int64_t step, const std::string& stage) {
  CheckpointStore store(run_dir);
  return store.write(step, [&](ril::io::H5File& f) {
    ril::io::CheckpointHeader h;
    h.step = step;
    h.stage = stage;
    h.config_text = stage.empty() || stage == "sft" ? "# ril sft, resolved configuration\n[sft]\nsteps = 9\n"
                                                    : "# ril train, resolved configuration\n[train]\n";
    ril::io::write_checkpoint_header(f, h);
  });
}

std::string locate_error(const std::string& path) {
  try {
    ril::io::locate_checkpoint(path);
  } catch (const ril::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(LocateCheckpoint, AFileAnywhereOrAFolderResolves) {
  ril::test::TempDir dir;
  const std::string run = dir.path() + "/run";
  write_checkpoint(run, 2, "ril");
  const std::string newest = write_checkpoint(run, 5, "ril");
  EXPECT_EQ(ril::io::locate_checkpoint(newest).step, 5);
  EXPECT_EQ(ril::io::locate_checkpoint(run).path, newest);                  // the run directory
  EXPECT_EQ(ril::io::locate_checkpoint(run + "/checkpoints").path, newest);  // its checkpoints folder

  // Copied out of any checkpoints/ folder (it was "the file does not exist"), nothing created.
  fs::create_directories(dir.path() + "/saved");
  const std::string copy = dir.path() + "/saved/step-000005.h5";
  fs::copy_file(newest, copy);
  const ril::io::CheckpointInfo info = ril::io::locate_checkpoint(copy);
  EXPECT_EQ(info.step, 5);
  EXPECT_EQ(info.path, copy);
  EXPECT_FALSE(fs::exists(dir.path() + "/checkpoints"));
  EXPECT_FALSE(fs::exists(dir.path() + "/saved/checkpoints"));
  EXPECT_EQ(ril::io::locate_checkpoint(dir.path() + "/saved").path, copy);
}

TEST(LocateCheckpoint, BadPathsSayWhatIsWrong) {
  ril::test::TempDir dir;
  const std::string run = dir.path() + "/run";
  const std::string good = write_checkpoint(run, 3, "ril");
  EXPECT_NE(locate_error(dir.path() + "/nope.h5").find("does not exist"), std::string::npos);
  fs::copy_file(good, dir.path() + "/renamed.h5");
  EXPECT_NE(locate_error(dir.path() + "/renamed.h5").find("its name is not step-NNNNNN.h5"), std::string::npos);
  fs::create_directories(dir.path() + "/empty");
  EXPECT_NE(locate_error(dir.path() + "/empty").find("holds no complete checkpoint"), std::string::npos);
  // A file of the right name but not a complete checkpoint.
  fs::create_directories(dir.path() + "/bad");
  { ril::io::H5File f = ril::io::H5File::create(dir.path() + "/bad/step-000004.h5", ril::io::kCheckpointKind); }
  EXPECT_NE(locate_error(dir.path() + "/bad/step-000004.h5").find("is not usable: it has no 'complete' attribute"),
            std::string::npos);
}

TEST(CheckpointOrigin, NamesTheCommandThatWroteIt) {
  ril::test::TempDir dir;
  const auto origin = [](const std::string& path) {
    return ril::io::checkpoint_origin(
        ril::io::read_checkpoint_header(ril::io::H5File::open(path, ril::io::kCheckpointKind)));
  };
  EXPECT_EQ(origin(write_checkpoint(dir.path() + "/ril", 1, "ril")), "train --stage ril");
  EXPECT_EQ(origin(write_checkpoint(dir.path() + "/disc", 1, "disc")), "train --stage disc");
  EXPECT_EQ(origin(write_checkpoint(dir.path() + "/sft", 1, "sft")), "sft");
  EXPECT_EQ(origin(write_checkpoint(dir.path() + "/old-sft", 1, "")), "sft");
}
