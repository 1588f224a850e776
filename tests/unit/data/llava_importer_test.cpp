// The LLaVA importer on the committed fixture (tests/fixtures/data/llava): good PNG/JPEG
// records import, each kind of bad record is reported with its line, --on-error decides.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "ril/common/error.h"
#include "ril/data/dataset.h"
#include "ril/data/llava_importer.h"
#include "unit/data/data_test_util.h"

namespace ril::data {
namespace {

using testing::ScratchDir;

ImportOptions fixture_options(const ScratchDir& dir, const std::string& input = "records.jsonl") {
  ImportOptions o;
  o.input = testing::fixtures_dir() + "/data/llava/" + input;
  o.output = dir.file("imported.h5");
  o.image_size = 32;
  return o;
}

TEST(LlavaImporter, SkipsBadRecordsAndReportsTheirLines) {
  ScratchDir dir;
  const ImportReport report = import_llava(fixture_options(dir));
  EXPECT_EQ(report.records, 8);  // the blank line is not a record
  EXPECT_EQ(report.imported_records, 3);
  EXPECT_EQ(report.examples, 4);  // record 2 has two question/answer pairs
  EXPECT_EQ(report.skipped, 5);
  ASSERT_EQ(report.issues.size(), 5u);
  const std::vector<std::pair<int64_t, std::string>> expected = {
      {3, "image not found"}, {4, "cannot decode image"}, {6, "robot"}, {7, "invalid JSON"}, {8, "<image>"}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(report.issues[i].line, expected[i].first);
    EXPECT_NE(report.issues[i].message.find(expected[i].second), std::string::npos) << report.issues[i].message;
  }
  const std::string summary = report.summary();
  EXPECT_NE(summary.find("5 skipped"), std::string::npos) << summary;
  EXPECT_NE(summary.find("line 4: cannot decode image"), std::string::npos) << summary;

  const Dataset d = Dataset::open(dir.file("imported.h5"));
  ASSERT_EQ(d.size(), 4);
  EXPECT_EQ(d.image_height(), 32);
  EXPECT_EQ(d.question(0), "What colour is the square?");
  EXPECT_EQ(d.answer(0), "red");
  EXPECT_EQ(d.question(1), "What shape is blue?");
  EXPECT_EQ(d.answer(1), "A circle.");  // no "Answer:" line: the whole response
  EXPECT_EQ(d.answer(2), "yes");
  EXPECT_EQ(d.split(1), Split::kTest);
  EXPECT_EQ(d.split(2), Split::kTest);
  EXPECT_EQ(d.family(0), "imported");
  EXPECT_EQ(d.family(1), "shapes");
  EXPECT_EQ(d.family(3), "arithmetic");
  const Example e = d.example(0);
  EXPECT_EQ(e.rationales.at("reference"), "The square is red.\nAnswer: red");
  // The 48x32 red square image is padded into 32x32: black bands top and bottom, red middle.
  EXPECT_LT(e.image.get(1, 16).r, 40);
  EXPECT_GT(e.image.get(16, 16).r, 150);
  EXPECT_LT(e.image.get(16, 16).g, 100);
  EXPECT_EQ(d.file().read_text("source")[0], fixture_options(dir).input + ":1");
}

TEST(LlavaImporter, FailModeStopsAtTheFirstBadRecordAndWritesNothing) {
  ScratchDir dir;
  ImportOptions o = fixture_options(dir);
  o.on_error = OnError::kFail;
  try {
    import_llava(o);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("records.jsonl:3: image not found"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(testing::file_exists(o.output));
}

// An image path that names a directory or a FIFO is one bad record, not the end of the import
// (it was: "basic_filebuf::underflow error reading the file: Is a directory", no line named), and
// a FIFO is never opened for a blocking read.
TEST(LlavaImporter, ImagePathsThatAreNotFilesAreBadRecords) {
  ScratchDir dir;
  const std::string img = testing::fixtures_dir() + "/data/llava/img";
  std::filesystem::create_directory(dir.file("a_directory.png"));
  ASSERT_EQ(::mkfifo(dir.file("a_fifo.png").c_str(), 0600), 0);
  const std::string record = R"(", "conversations": [{"from": "human", "value": "<image>\nQ?"}, {"from": "gpt", "value": "Answer: 1"}]})";
  std::ofstream(dir.file("in.jsonl")) << R"({"image": ")" << img << "/red_square.png" << record << "\n"
                                      << R"({"image": "a_directory.png)" << record << "\n"
                                      << R"({"image": "a_fifo.png)" << record << "\n";
  ImportOptions o;
  o.input = dir.file("in.jsonl");
  o.output = dir.file("out.h5");
  o.image_size = 32;
  const ImportReport report = import_llava(o);
  EXPECT_EQ(report.imported_records, 1);
  ASSERT_EQ(report.issues.size(), 2u);
  EXPECT_EQ(report.issues[0].line, 2);
  EXPECT_NE(report.issues[0].message.find("a_directory.png is not a file (it is a directory)"), std::string::npos)
      << report.issues[0].message;
  EXPECT_EQ(report.issues[1].line, 3);
  EXPECT_NE(report.issues[1].message.find("a_fifo.png is not a file (it is a FIFO)"), std::string::npos)
      << report.issues[1].message;

  o.on_error = OnError::kFail;
  o.output = dir.file("fail.h5");
  try {
    import_llava(o);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in.jsonl:2: image " + dir.file("a_directory.png") + " is not a file"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(testing::file_exists(o.output));
}

TEST(LlavaImporter, JsonArrayReportsRecordNumbers) {
  ScratchDir dir;
  const ImportReport report = import_llava(fixture_options(dir, "records.json"));
  EXPECT_EQ(report.location_kind, "record");
  EXPECT_EQ(report.records, 3);
  EXPECT_EQ(report.examples, 2);
  ASSERT_EQ(report.issues.size(), 1u);
  EXPECT_EQ(report.issues[0].line, 2);
  EXPECT_NE(report.issues[0].message.find("alternate"), std::string::npos) << report.issues[0].message;
}

TEST(LlavaImporter, ParsesRecordsStrictly) {
  const LlavaRecord r = parse_llava_record(
      R"({"id": 5, "image": "x.png", "conversations": [{"from": "human", "value": "<image>\n Q1 "},
          {"from": "gpt", "value": "A1"}, {"from": "user", "value": "Q2"}, {"from": "assistant", "value": "A2"}]})");
  EXPECT_EQ(r.id, "5");
  ASSERT_EQ(r.pairs.size(), 2u);
  EXPECT_EQ(r.pairs[0].question, "Q1");
  EXPECT_EQ(r.pairs[1].response, "A2");
  EXPECT_THROW(parse_llava_record(R"({"image": "x.png"})"), Error);
  EXPECT_THROW(parse_llava_record(R"({"image": "x.png", "conversations": []})"), Error);
  EXPECT_THROW(parse_llava_record(R"({"image": "x.png", "conversations": [{"from": "human", "value": "<image>Q"}]})"), Error);
  EXPECT_THROW(parse_llava_record(R"({"image": "x.png", "conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "A"}]})"), Error);
  EXPECT_THROW(parse_llava_record(R"({"image": "x.png", "conversations": [{"from": "human", "value": "<image><image>Q"}, {"from": "gpt", "value": "A"}]})"), Error);
  EXPECT_THROW(parse_llava_record(R"({"image": "x.png", "conversations": [{"from": "human", "value": "<image>Q"}, {"from": "gpt", "value": "  "}]})"), Error);
  EXPECT_THROW(parse_llava_record(R"({"conversations": [{"from": "human", "value": "<image>Q"}, {"from": "gpt", "value": "A"}]})"), Error);
  EXPECT_THROW(parse_llava_record("[1, 2]"), Error);
  EXPECT_THROW(parse_llava_record("{not json"), Error);
}

TEST(LlavaImporter, AnswerComesFromTheLastAnswerLine) {
  EXPECT_EQ(answer_from_response("It is red.\nAnswer: red."), "red");
  EXPECT_EQ(answer_from_response("answer: 3\nmore\nAnswer: 4\nthanks"), "4");
  EXPECT_EQ(answer_from_response("  A dog.  "), "A dog.");
  EXPECT_EQ(answer_from_response("Answer:   \nA dog"), "Answer:   \nA dog");
}

TEST(LlavaImporter, BadOptionsAreConfigErrors) {
  ScratchDir dir;
  ImportOptions o = fixture_options(dir);
  o.val_fraction = 0.8;
  o.test_fraction = 0.5;
  EXPECT_THROW(import_llava(o), ConfigError);
  o = fixture_options(dir, "does_not_exist.jsonl");
  EXPECT_THROW(import_llava(o), ConfigError);
  EXPECT_THROW(parse_on_error("ignore"), ConfigError);
}

}  // namespace
}  // namespace ril::data
