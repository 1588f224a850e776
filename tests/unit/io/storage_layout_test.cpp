// Storage of the growing datasets (issue 17, item 4): teacher cache and metrics written the new way
// (text and appended columns without a filter, rows written in place) read back identically, h5py
// and h5dump read them, and files written the old way (deflate) still read and still grow.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ril/io/h5_file.h"
#include "ril/io/metrics_table.h"
#include "ril/io/teacher_cache.h"
#include "support/temp_dir.h"

using ril::io::DatasetOptions;
using ril::io::ElementType;
using ril::io::H5File;
using ril::io::OpenMode;
using ril::io::TeacherCache;
using ril::io::TeacherInfo;
using ril::io::TeacherRow;

namespace {

std::string make_dataset(const std::string& dir) {
  const std::string path = dir + "/d.h5";
  H5File f = H5File::create(path, "dataset");
  f.set_attr("/", "count", int64_t{1000});
  return path;
}

TeacherInfo teacher(const std::string& name) {
  TeacherInfo t;
  t.name = name;
  t.model_path = "/m/" + name;
  t.model_type = "qwen2";
  t.tokenizer_path = "/m/" + name + "/tokenizer.json";
  t.split_questions = 100;
  return t;
}

// Rows with empty, non-ASCII and long responses.
std::vector<TeacherRow> rows_between(int64_t a, int64_t b) {
  std::vector<TeacherRow> out;
  for (int64_t i = a; i < b; ++i) {
    std::string text = i % 5 == 0 ? std::string() : "r" + std::to_string(i) + " \xc3\xa9t\xc3\xa9 \xe2\x86\x92 ";
    if (i % 7 == 3) text += std::string(70000 + static_cast<size_t>(i), static_cast<char>('a' + i % 26));
    out.push_back({i / 4, static_cast<int32_t>(i % 4), text});
  }
  return out;
}

// Runs a command, returns (exit status, output).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {status, out};
}

// The old layout of a teacher's datasets (deflate 4 + shuffle, 1 MiB / 4096-row chunks, fill
// values), as TeacherCache::add_teacher and H5File wrote them before issue 17.
void add_teacher_old_layout(H5File& f, const TeacherInfo& t) {
  const std::string g = "teachers/" + t.name;
  f.create_group(g);
  f.set_attr(g, "model_path", t.model_path);
  f.set_attr(g, "model_type", t.model_type);
  f.set_attr(g, "tokenizer_path", t.tokenizer_path);
  f.set_attr(g, "source", t.source);
  f.set_attr(g, "temperature", t.temperature);
  f.set_attr(g, "top_p", t.top_p);
  f.set_attr(g, "top_k", t.top_k);
  f.set_attr(g, "repetition_penalty", t.repetition_penalty);
  f.set_attr(g, "max_new_tokens", t.max_new_tokens);
  f.set_attr(g, "seed", t.seed);
  f.set_attr(g, "responses_per_question", t.responses_per_question);
  f.set_attr(g, "split", t.split);
  f.set_attr(g, "split_questions", t.split_questions);
  DatasetOptions old;
  old.extendable = true;
  old.compression = 4;
  old.chunk_rows = 4096;
  f.write_vector<int64_t>(g + "/question_id", {}, old);
  f.write_vector<int32_t>(g + "/sample_index", {}, old);
  f.create_group(g + "/response");
  old.chunk_rows = 0;
  f.write_array(g + "/response/bytes", ElementType::kUInt8, {0}, nullptr, old);
  const int64_t zero = 0;
  f.write_array(g + "/response/offsets", ElementType::kInt64, {1}, &zero, old);
  f.set_attr(g, "committed", int64_t{0});
}

}  // namespace

TEST(StorageLayout, TeacherCacheNewLayoutReadsBackAndH5pyAndH5dumpReadIt) {
  ril::test::TempDir dir;
  const std::string ds = make_dataset(dir.path());
  const std::string path = dir.path() + "/cache.h5";
  const std::vector<TeacherRow> all = rows_between(0, 300);
  {
    TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
    cache.add_teacher(teacher("t"));
    for (int64_t a = 0; a < 300; a += 37) {
      cache.append("t", std::vector<TeacherRow>(all.begin() + a, all.begin() + std::min<int64_t>(a + 37, 300)));
    }
  }
  TeacherCache cache = TeacherCache::open(path);
  ASSERT_EQ(cache.committed("t"), 300);
  EXPECT_EQ(cache.rows("t"), all);
  EXPECT_EQ(cache.rows("t", 111, 50), std::vector<TeacherRow>(all.begin() + 111, all.begin() + 161));
  const ril::io::DatasetInfo bytes = cache.file().dataset_info("teachers/t/response/bytes");
  EXPECT_EQ(bytes.compression, 0);
  EXPECT_EQ(bytes.chunk, (std::vector<int64_t>{4 << 20}));
  EXPECT_EQ(cache.file().dataset_info("teachers/t/question_id").compression, 0);
  EXPECT_EQ(cache.file().dataset_info("teachers/t/response/offsets").compression, 0);

  // h5py: the committed responses, question ids and sample indices, as ril reads them.
  const std::string expect_path = dir.path() + "/expected.txt";
  {
    std::ofstream out(expect_path, std::ios::binary);
    for (const TeacherRow& r : all) out << r.question_id << " " << r.sample_index << " " << r.response.size() << "\n";
  }
  const std::string script =
      "import sys, h5py, numpy as np\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "g = f['teachers/t']\n"
      "n = int(g.attrs['committed'])\n"
      "off = g['response/offsets'][:n + 1]\n"
      "data = g['response/bytes'][:off[-1]].tobytes()\n"
      "q, s = g['question_id'][:n], g['sample_index'][:n]\n"
      "lines = ['%d %d %d' % (q[i], s[i], off[i + 1] - off[i]) for i in range(n)]\n"
      "texts = [data[off[i]:off[i + 1]].decode('utf-8') for i in range(n)]\n"
      "assert open(sys.argv[2]).read().splitlines() == lines, 'rows differ'\n"
      "print('h5py-ok', n, sum(len(t) for t in texts), f.attrs['kind'])\n";
  const std::string script_path = dir.path() + "/check.py";
  std::ofstream(script_path) << script;
  const auto [py_status, py_out] = run("/usr/bin/python3 -c 'import h5py' && /usr/bin/python3 " + script_path + " " +
                                       path + " " + expect_path);
  if (py_out.find("No module named") != std::string::npos) {
    GTEST_SKIP() << "h5py is not installed (python3-h5py): " << py_out;
  }
  EXPECT_EQ(py_status, 0) << py_out;
  EXPECT_NE(py_out.find("h5py-ok 300"), std::string::npos) << py_out;
  const auto [dump_status, dump_out] = run("h5dump -d /teachers/t/response/offsets -c 5 " + path);
  if (dump_out.find("not found") == std::string::npos) {
    EXPECT_EQ(dump_status, 0) << dump_out;
    EXPECT_NE(dump_out.find("DATASET \"/teachers/t/response/offsets\""), std::string::npos) << dump_out;
  }
}

TEST(StorageLayout, OldDeflateTeacherCacheStillReadsAndGrows) {
  ril::test::TempDir dir;
  const std::string ds = make_dataset(dir.path());
  const std::string path = dir.path() + "/cache.h5";
  { TeacherCache::open_for_dataset(path, ds); }  // the root attributes
  {
    H5File f = H5File::open(path, ril::io::kTeacherCacheKind, OpenMode::kReadWrite);
    add_teacher_old_layout(f, teacher("old"));
  }
  const std::vector<TeacherRow> all = rows_between(0, 120);
  {
    TeacherCache cache = TeacherCache::open_for_dataset(path, ds);
    cache.append("old", std::vector<TeacherRow>(all.begin(), all.begin() + 70));
  }
  {
    TeacherCache cache = TeacherCache::open_for_dataset(path, ds);  // resume on the old file
    EXPECT_EQ(cache.rows("old"), std::vector<TeacherRow>(all.begin(), all.begin() + 70));
    cache.append("old", std::vector<TeacherRow>(all.begin() + 70, all.end()));
    cache.add_teacher(teacher("new"));  // a new teacher in an old file: the new layout
    cache.append("new", all);
  }
  TeacherCache cache = TeacherCache::open(path);
  EXPECT_EQ(cache.rows("old"), all);
  EXPECT_EQ(cache.rows("new"), all);
  EXPECT_EQ(cache.file().dataset_info("teachers/old/response/bytes").compression, 4);
  EXPECT_EQ(cache.file().dataset_info("teachers/new/response/bytes").compression, 0);
}

TEST(StorageLayout, MetricsNewLayoutAndOldDeflateFiles) {
  ril::test::TempDir dir;
  const std::vector<std::string> columns = {"loss", "reward"};
  {
    ril::io::MetricsTable t = ril::io::MetricsTable::open(dir.path() + "/new", columns, ril::io::kKeepAllRows);
    for (int64_t s = 1; s <= 1500; ++s) t.append(s, {0.5 * static_cast<double>(s), -static_cast<double>(s)});
  }
  const ril::io::MetricsData d = ril::io::read_metrics(dir.path() + "/new");
  ASSERT_EQ(d.rows(), 1500);
  EXPECT_EQ(d.values[0][1499], 750.0);
  EXPECT_EQ(d.values[1][7], -8.0);
  {
    const H5File f = H5File::open(dir.path() + "/new/metrics.h5");
    EXPECT_EQ(f.dataset_info("metrics/loss").compression, 0);
  }
  const auto [status, out] =
      run("/usr/bin/python3 -c \"import h5py; f = h5py.File('" + dir.path() +
          "/new/metrics.h5', 'r'); g = f['metrics']; n = int(g.attrs['rows']); "
          "print('h5py-ok', n, g['step'][n - 1], g['loss'][:n].sum())\"");
  if (out.find("No module named") == std::string::npos) {
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("h5py-ok 1500 1500 562875.0"), std::string::npos) << out;
  }

  // An old file: every dataset deflate-compressed (as written before issue 17).
  const std::string old_dir = dir.path() + "/old";
  std::filesystem::create_directories(old_dir);
  {
    H5File f = H5File::create(old_dir + "/metrics.h5", ril::io::kMetricsKind);
    f.set_attr("/", "metrics_version", ril::io::kMetricsVersion);
    f.set_attr("/", "columns", std::string("loss,reward"));
    f.create_group("metrics");
    DatasetOptions old;
    old.extendable = true;
    old.chunk_rows = 1024;
    old.compression = 4;
    f.write_vector<int64_t>("metrics/step", {1, 2}, old);
    f.write_vector<double>("metrics/loss", {0.5, 1.0}, old);
    f.write_vector<double>("metrics/reward", {-1.0, -2.0}, old);
    f.set_attr("metrics", "rows", int64_t{2});
  }
  {
    ril::io::MetricsTable t = ril::io::MetricsTable::open(old_dir, columns, ril::io::kKeepAllRows);
    EXPECT_EQ(t.rows(), 2);
    t.append(3, {1.5, -3.0});
  }
  const ril::io::MetricsData o = ril::io::read_metrics(old_dir);
  EXPECT_EQ(o.steps, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(o.values[0], (std::vector<double>{0.5, 1.0, 1.5}));
  const H5File f = H5File::open(old_dir + "/metrics.h5");
  EXPECT_EQ(f.dataset_info("metrics/loss").compression, 4);
}
