// TeacherCache: append/commit/reopen, the writer protocol under a simulated crash and a
// SIGKILLed writer, refusal of a cache built for another dataset, JSONL import with bad lines.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "ril/common/error.h"
#include "ril/io/file_summary.h"
#include "ril/io/h5_file.h"
#include "ril/io/teacher_cache.h"
#include "support/temp_dir.h"

using ril::io::H5File;
using ril::io::OpenMode;
using ril::io::TeacherCache;
using ril::io::TeacherInfo;
using ril::io::TeacherRow;

namespace {

// A stand-in dataset file: only the root attributes matter to the cache.
std::string make_dataset(const std::string& dir, const std::string& name, int64_t seed, int64_t count) {
  const std::string path = dir + "/" + name;
  H5File f = H5File::create(path, "dataset");
  f.set_attr("/", "seed", seed);
  f.set_attr("/", "count", count);
  f.set_attr("/", "generator", std::string("synth"));
  return path;
}

TeacherInfo info(const std::string& name, int64_t n = 2) {
  TeacherInfo t;
  t.name = name;
  t.model_path = "/models/" + name;
  t.model_type = "qwen2";
  t.tokenizer_path = "/models/" + name + "/tokenizer.json";
  t.responses_per_question = n;
  t.split_questions = 10;
  return t;
}

TeacherRow row(int64_t i) {
  return {i / 2, static_cast<int32_t>(i % 2), "response " + std::to_string(i) + std::string(i % 7, 'x')};
}

std::vector<TeacherRow> rows_between(int64_t a, int64_t b) {
  std::vector<TeacherRow> out;
  for (int64_t i = a; i < b; ++i) out.push_back(row(i));
  return out;
}

}  // namespace

TEST(TeacherCache, AppendCommitReopen) {
  ril::test::TempDir dir;
  const std::string ds = make_dataset(dir.path(), "d.h5", 7, 10);
  const std::string path = dir.path() + "/cache.h5";
  {
    TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
    EXPECT_TRUE(cache.add_teacher(info("big")));
    EXPECT_TRUE(cache.add_teacher(info("other")));
    EXPECT_EQ(cache.committed("big"), 0);
    EXPECT_EQ(cache.append("big", rows_between(0, 6)), 6);
    EXPECT_EQ(cache.append("big", rows_between(6, 10)), 10);
    EXPECT_EQ(cache.append("other", {{3, 0, "other says"}}), 1);
  }
  TeacherCache cache = TeacherCache::open(path);
  EXPECT_EQ(cache.teachers(), (std::vector<std::string>{"big", "other"}));
  EXPECT_EQ(cache.committed("big"), 10);
  EXPECT_EQ(cache.rows("big"), rows_between(0, 10));
  EXPECT_EQ(cache.teacher("big").model_path, "/models/big");
  EXPECT_DOUBLE_EQ(cache.teacher("big").repetition_penalty, 1.05);
  const auto r = cache.responses_for(3);
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(r.at("big").size(), 2u);
  EXPECT_EQ(r.at("big")[1].text, row(7).response);
  EXPECT_EQ(r.at("other")[0].text, "other says");
  const auto cov = cache.coverage("big", {0, 1, 2, 3, 4, 5, 6});
  EXPECT_EQ(cov.complete, 5);
  EXPECT_EQ(cov.total, 7);
  EXPECT_EQ(cache.coverage("big").complete, 5);
  EXPECT_EQ(cache.coverage("big").total, 10);
  ril::io::register_kind_summary(ril::io::kTeacherCacheKind, ril::io::summarize_teacher_cache);
  const std::string summary = ril::io::summarize_file(path);
  EXPECT_NE(summary.find("coverage 5/10"), std::string::npos) << summary;
}

TEST(TeacherCache, SameTeacherWithOtherSettingsIsRefused) {
  ril::test::TempDir dir;
  const std::string ds = make_dataset(dir.path(), "d.h5", 7, 10);
  TeacherCache cache = TeacherCache::open_for_dataset(dir.path() + "/c.h5", ds);
  cache.add_teacher(info("t"));
  EXPECT_FALSE(cache.add_teacher(info("t")));
  TeacherInfo changed = info("t");
  changed.top_p = 0.5;
  try {
    cache.add_teacher(changed);
    FAIL() << "expected a refusal";
  } catch (const ril::Error& e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos) << e.what();
  }
}

// Rows appended without the commit (a writer killed between the two flushes, or mid-append,
// including text bytes without their offsets) are ignored and overwritten on resume.
TEST(TeacherCache, UncommittedRowsAreDroppedAndOverwritten) {
  ril::test::TempDir dir;
  const std::string ds = make_dataset(dir.path(), "d.h5", 7, 10);
  const std::string path = dir.path() + "/cache.h5";
  {
    TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
    cache.add_teacher(info("t"));
    cache.append("t", rows_between(0, 4));
  }
  {
    // The crashed writer: rows in, no commit; plus stray bytes with no offsets.
    H5File f = H5File::open(path, ril::io::kTeacherCacheKind, OpenMode::kReadWrite);
    f.append_text("teachers/t/response", {"garbage A", "garbage B"});
    const std::vector<int32_t> s = {0, 1};
    const std::vector<int64_t> q = {9, 9};
    f.append_rows("teachers/t/sample_index", 2, s.data());
    f.append_rows("teachers/t/question_id", 2, q.data());
    const std::string stray = "stray bytes";
    f.append_rows("teachers/t/response/bytes", static_cast<int64_t>(stray.size()), stray.data());
    f.flush();
  }
  {
    TeacherCache reader = TeacherCache::open(path);  // read-only: sees committed rows only
    EXPECT_EQ(reader.committed("t"), 4);
    EXPECT_EQ(reader.rows("t"), rows_between(0, 4));
    EXPECT_TRUE(reader.responses_for(9).empty());
  }
  {
    TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
    EXPECT_EQ(cache.file().shape("teachers/t/question_id")[0], 4);
    cache.append("t", rows_between(4, 8));
  }
  TeacherCache cache = TeacherCache::open(path);
  EXPECT_EQ(cache.rows("t"), rows_between(0, 8));
  EXPECT_EQ(cache.file().text_count("teachers/t/response"), 8);
  EXPECT_EQ(cache.file().read_text("teachers/t/response"), [] {
    std::vector<std::string> t;
    for (const auto& r : rows_between(0, 8)) t.push_back(r.response);
    return t;
  }());
}

TEST(TeacherCache, KilledWriterLeavesCommittedRowsIntact) {
  ril::test::TempDir dir;
  const std::string ds = make_dataset(dir.path(), "d.h5", 7, 1000000);
  const std::string path = dir.path() + "/cache.h5";
  {
    TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
    cache.add_teacher(info("t"));
  }
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    try {
      TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
      for (int64_t i = 0;; i += 50) {
        cache.append("t", rows_between(i, i + 50));
        const char c = 'x';
        if (write(pipe_fds[1], &c, 1) != 1) break;
      }
    } catch (...) {
    }
    _exit(1);
  }
  close(pipe_fds[1]);
  char c;
  for (int i = 0; i < 20; ++i) ASSERT_EQ(read(pipe_fds[0], &c, 1), 1) << "the writer died early";
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(pipe_fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status));

  TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
  const int64_t committed = cache.committed("t");
  EXPECT_GE(committed, 20 * 50);
  EXPECT_EQ(committed % 50, 0);
  EXPECT_EQ(cache.rows("t"), rows_between(0, committed));
  cache.append("t", rows_between(committed, committed + 50));
  EXPECT_EQ(cache.rows("t"), rows_between(0, committed + 50));
}

TEST(TeacherCache, CacheForAnotherDatasetIsRefused) {
  ril::test::TempDir dir;
  const std::string a = make_dataset(dir.path(), "a.h5", 7, 10);
  const std::string b = make_dataset(dir.path(), "b.h5", 8, 10);
  const std::string path = dir.path() + "/cache.h5";
  TeacherCache::open_for_dataset(path, a).add_teacher(info("t"));
  EXPECT_NO_THROW(TeacherCache::open_for_dataset(path, a));
  try {
    TeacherCache::open_for_dataset(path, b);
    FAIL() << "expected a refusal";
  } catch (const ril::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("was built for dataset"), std::string::npos) << what;
    EXPECT_NE(what.find("seed=7"), std::string::npos) << what;
    EXPECT_NE(what.find("seed=8"), std::string::npos) << what;
  }
  // Not a cache at all.
  EXPECT_THROW(TeacherCache::open_for_dataset(a, a), ril::Error);
}

TEST(TeacherCache, ImportJsonlReportsBadLines) {
  ril::test::TempDir dir;
  const std::string ds = make_dataset(dir.path(), "d.h5", 7, 10);
  const std::string jsonl = dir.path() + "/r.jsonl";
  {
    std::ofstream out(jsonl);
    out << "{\"question_id\": 1, \"teacher\": \"gpt\", \"response\": \"one\"}\n"   // 1 ok
        << "{\"index\": 2, \"response\": \"two\"}\n"                              // 2 ok
        << "not json\n"                                                           // 3 bad
        << "{\"question_id\": 11, \"response\": \"x\"}\n"                         // 4 out of range
        << "{\"question_id\": \"3\", \"response\": \"x\"}\n"                      // 5 not int
        << "{\"question_id\": 3, \"teacher\": \"other\", \"response\": \"x\"}\n"  // 6 wrong teacher
        << "{\"question_id\": 3}\n"                                               // 7 no response
        << "\n"
        << "{\"question_id\": 1, \"response\": \"one\"}\n"                        // 9 duplicate
        << "{\"question_id\": 1, \"response\": \"uno\"}\n";                       // 10 ok
  }
  TeacherCache cache = TeacherCache::open_for_dataset(dir.path() + "/c.h5", ds);
  TeacherInfo t = info("gpt");
  t.source = "import";
  cache.add_teacher(t);
  const auto report = cache.import_jsonl(jsonl, "gpt");
  EXPECT_EQ(report.lines, 9);
  EXPECT_EQ(report.imported, 3);
  EXPECT_EQ(report.duplicates, 1);
  ASSERT_EQ(report.errors.size(), 5u);
  const std::vector<int> bad_lines = {3, 4, 5, 6, 7};
  for (size_t i = 0; i < bad_lines.size(); ++i) {
    EXPECT_NE(report.errors[i].find("r.jsonl:" + std::to_string(bad_lines[i]) + ":"), std::string::npos)
        << report.errors[i];
  }
  EXPECT_EQ(cache.rows("gpt"), (std::vector<TeacherRow>{{1, 0, "one"}, {2, 0, "two"}, {1, 1, "uno"}}));
  // A second import of the same file adds nothing.
  EXPECT_EQ(cache.import_jsonl(jsonl, "gpt").imported, 0);
  EXPECT_EQ(cache.committed("gpt"), 3);
}
