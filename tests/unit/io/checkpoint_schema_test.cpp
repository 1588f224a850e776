// The checkpoint schema (io/checkpoint_schema.h): the header round-trips, absent fields read as
// "not recorded", and a `ril sft` checkpoint of the layout before the schema still reads.
#include "ril/io/checkpoint_schema.h"

#include <gtest/gtest.h>

#include "ril/common/error.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/module_state.h"
#include "support/temp_dir.h"

namespace ril::io {
namespace {

TEST(CheckpointSchema, HeaderRoundTrips) {
  test::TempDir dir;
  const std::string path = dir.path() + "/c.h5";
  CheckpointHeader h;
  h.step = 12;
  h.world_size = 4;
  h.stage = "ril";
  h.config_text = "[train]\nsteps = 30\n";
  h.student_config = "{\"model_type\": \"llava\"}";
  h.student_tokenizer = "/data/tokenizer.json";
  {
    H5File f = H5File::create(path, kCheckpointKind);
    f.create_group(checkpoint_names::kStudent);
    write_checkpoint_header(f, h);
  }
  const H5File f = H5File::open(path, kCheckpointKind);
  const CheckpointHeader got = read_checkpoint_header(f);
  EXPECT_EQ(got.step, 12);
  EXPECT_EQ(got.world_size, 4);
  EXPECT_EQ(got.learners, -1);  // not recorded by ril train
  EXPECT_EQ(got.stage, "ril");
  EXPECT_EQ(got.config_text, h.config_text);
  EXPECT_EQ(got.student_config, h.student_config);
  EXPECT_EQ(got.student_tokenizer, h.student_tokenizer);
  EXPECT_EQ(student_tensor_group(f), "student");
}

TEST(CheckpointSchema, OlderSftCheckpointsStillRead) {
  test::TempDir dir;
  const std::string path = dir.path() + "/old.h5";
  {  // what ril sft wrote before the schema: /model, /step, /learners, /config, no attributes
    H5File f = H5File::create(path, kCheckpointKind);
    f.create_group("model");
    write_int64(f, "step", 50);
    write_int64(f, "learners", 2);
    write_string(f, "config", "[sft]\n");
  }
  const H5File f = H5File::open(path, kCheckpointKind);
  const CheckpointHeader got = read_checkpoint_header(f);
  EXPECT_EQ(got.step, 50);
  EXPECT_EQ(got.learners, 2);
  EXPECT_EQ(got.world_size, -1);
  EXPECT_TRUE(got.stage.empty());
  EXPECT_TRUE(got.student_config.empty());
  EXPECT_EQ(student_tensor_group(f), "model");
}

TEST(CheckpointSchema, AFileWithoutAStepIsNotACheckpoint) {
  test::TempDir dir;
  const std::string path = dir.path() + "/x.h5";
  H5File::create(path, kCheckpointKind).close();
  const H5File f = H5File::open(path, kCheckpointKind);
  EXPECT_THROW(read_checkpoint_header(f), Error);
  EXPECT_EQ(student_tensor_group(f), "");
}

}  // namespace
}  // namespace ril::io
