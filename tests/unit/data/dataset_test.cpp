// Dataset files: writer/reader round trip, layout, and errors that name the file.
#include <gtest/gtest.h>

#include <regex>

#include "ril/common/error.h"
#include "ril/data/contact_sheet.h"
#include "ril/data/dataset.h"
#include "ril/data/dataset_summary.h"
#include "ril/data/image_codec.h"
#include "ril/data/synth_generator.h"
#include "ril/io/h5_file.h"
#include "unit/data/data_test_util.h"

namespace ril::data {
namespace {

using testing::ScratchDir;

Example make_example(int i, int size, const std::string& family, Split split) {
  Example e;
  e.image = Image(size, size, Rgb{static_cast<uint8_t>(i), 2, 3});
  e.image.set(0, 0, Rgb{9, 9, 9});
  e.question = "q" + std::to_string(i) + " caf\xc3\xa9";
  e.answer = std::to_string(i);
  e.rationales["a"] = "ra" + std::to_string(i);
  e.rationales["b"] = "";
  e.family = family;
  e.split = split;
  return e;
}

// A writer of 8x8 images with rationale styles a and b into DIR/d.h5.
DatasetWriterOptions small_writer(const ScratchDir& dir) {
  DatasetWriterOptions w;
  w.path = dir.file("d.h5");
  w.image_height = w.image_width = 8;
  w.rationale_styles = {"a", "b"};
  w.generator = "test";
  return w;
}

TEST(Dataset, WriterReaderRoundTrip) {
  ScratchDir dir;
  DatasetWriterOptions w = small_writer(dir);
  w.buffer_examples = 3;  // several flushes: exercises append_rows/append_text
  {
    DatasetWriter writer(w);
    writer.declare_family("first");
    for (int i = 0; i < 10; ++i) {
      writer.add(make_example(i, 8, i % 3 == 0 ? "second" : "first", i < 7 ? Split::kTrain : Split::kTest));
    }
    writer.set_attr("seed", int64_t{42});
    EXPECT_FALSE(testing::file_exists(w.path)) << "the file must appear only at finish()";
    writer.finish();
  }
  const Dataset d = Dataset::open(w.path);
  ASSERT_EQ(d.size(), 10);
  EXPECT_EQ(d.image_height(), 8);
  EXPECT_EQ(d.family_names(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(d.rationale_styles(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.indices(Split::kTest), (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(d.indices("second", Split::kTrain), (std::vector<int64_t>{0, 3, 6}));
  for (int i = 0; i < 10; ++i) {
    const Example want = make_example(i, 8, i % 3 == 0 ? "second" : "first", i < 7 ? Split::kTrain : Split::kTest);
    const Example got = d.example(i);
    EXPECT_EQ(got.image.bytes(), want.image.bytes()) << i;
    EXPECT_EQ(got.question, want.question);
    EXPECT_EQ(got.answer, want.answer);
    EXPECT_EQ(got.rationales, want.rationales);
    EXPECT_EQ(got.family, want.family);
    EXPECT_EQ(got.split, want.split);
  }
  EXPECT_THROW(d.example(10), Error);
  EXPECT_EQ(d.rationale(4, "a"), "ra4");
  EXPECT_THROW(d.rationale(4, "c"), Error);
  const io::H5File& f = d.file();
  EXPECT_EQ(f.kind(), "dataset");
  EXPECT_EQ(f.attr_int("/", "seed"), 42);
  EXPECT_EQ(f.attr_int("/", "count"), 10);
  EXPECT_EQ(f.shape("images"), (std::vector<int64_t>{10, 8, 8, 3}));
}

// Images are read a block of chunk rows at a time (64 here) and the last block kept: any order of
// reads, across block edges and the short last block, and a copy of the Dataset, give each
// example's own image.
TEST(Dataset, ImagesReadInBlocksGiveEveryExamplesOwnImage) {
  ScratchDir dir;
  const DatasetWriterOptions w = small_writer(dir);
  {
    DatasetWriter writer(w);
    for (int i = 0; i < 150; ++i) writer.add(make_example(i, 8, "f", Split::kTrain));
    writer.finish();
  }
  const Dataset d = Dataset::open(w.path);
  const Dataset copy = d;
  std::vector<int> order = {149, 0, 63, 64, 127, 128, 5, 149, 70, 63};
  for (int i = 0; i < 150; ++i) order.push_back(i);
  for (int i : order) {
    EXPECT_EQ(d.image_bytes(i), make_example(i, 8, "f", Split::kTrain).image.bytes()) << i;
    EXPECT_EQ(copy.image_bytes(149 - i), make_example(149 - i, 8, "f", Split::kTrain).image.bytes()) << 149 - i;
  }
  EXPECT_THROW(d.image_bytes(150), Error);
}

TEST(Dataset, WriterRejectsMismatchedExamples) {
  ScratchDir dir;
  DatasetWriterOptions w;
  w.path = dir.file("d.h5");
  w.image_height = w.image_width = 8;
  w.rationale_styles = {"a", "b"};
  DatasetWriter writer(w);
  EXPECT_THROW(writer.add(make_example(0, 9, "f", Split::kTrain)), Error);  // wrong size
  Example e = make_example(0, 8, "f", Split::kTrain);
  e.rationales.erase("b");
  EXPECT_THROW(writer.add(e), Error);
  EXPECT_THROW(writer.finish(), Error);  // nothing added
}

TEST(Dataset, OpenNamesTheFileOnBadInput) {
  ScratchDir dir;
  try {
    Dataset::open(dir.file("missing.h5"));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.h5"), std::string::npos) << e.what();
  }
  {
    io::H5File other = io::H5File::create(dir.file("other.h5"), "checkpoint");
  }
  try {
    Dataset::open(dir.file("other.h5"));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.h5"), std::string::npos) << e.what();
  }
  {
    io::H5File partial = io::H5File::create(dir.file("partial.h5"), "dataset");
    partial.write_text("question", {"q"});
  }
  EXPECT_THROW(Dataset::open(dir.file("partial.h5")), Error);
}

TEST(DatasetSummary, CountsFamiliesSplitsAndLengths) {
  ScratchDir dir;
  SynthOptions o;
  o.output = dir.file("s.h5");
  o.n_train = 50;
  o.n_val = 10;
  o.n_test = 5;
  write_synthetic_dataset(o);
  const io::H5File f = io::H5File::open(o.output, "dataset");
  std::string s = summarize_dataset(f);
  s = std::regex_replace(s, std::regex(" +"), " ");  // column widths are not the point
  EXPECT_NE(s.find("65 examples"), std::string::npos) << s;
  EXPECT_NE(s.find("[65, 64, 64, 3]"), std::string::npos) << s;
  EXPECT_NE(s.find("counting 10 2 1 13"), std::string::npos) << s;
  EXPECT_NE(s.find("all 50 10 5 65"), std::string::npos) << s;
  EXPECT_NE(s.find("rationale/steps"), std::string::npos) << s;
  EXPECT_NE(s.find("text length in words"), std::string::npos) << s;
}

TEST(ContactSheet, RendersAGridWithCaptions) {
  ScratchDir dir;
  SynthOptions o;
  o.output = dir.file("s.h5");
  o.n_train = 20;
  o.n_val = o.n_test = 0;
  write_synthetic_dataset(o);
  const Dataset d = Dataset::open(o.output);
  ContactSheetOptions c;
  c.count = 6;
  c.columns = 3;
  const Image sheet = render_contact_sheet(d, c);
  // Cells are as wide as 22 characters of text (132 px) plus 6 px padding on both sides.
  EXPECT_EQ(sheet.width(), 3 * (22 * 6 + 12));
  EXPECT_GT(sheet.height(), 2 * 128);
  // The first image is copied at 2x with its top-left corner at (6, 6).
  const Image first = d.example(0).image;
  for (int y = 0; y < 64; y += 7) {
    for (int x = 0; x < 64; x += 5) {
      const Rgb a = sheet.get(6 + 2 * y + 1, 6 + 2 * x + 1), b = first.get(y, x);
      ASSERT_TRUE(a.r == b.r && a.g == b.g && a.b == b.b) << y << "," << x;
    }
  }
  write_png(sheet, dir.file("grid.png"));
  const Image back = read_image_file(dir.file("grid.png"));
  EXPECT_EQ(back.bytes(), sheet.bytes());
  c.split = "test";
  EXPECT_THROW(render_contact_sheet(d, c), ConfigError);  // empty split
}

}  // namespace
}  // namespace ril::data
