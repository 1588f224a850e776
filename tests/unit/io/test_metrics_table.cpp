// MetricsTable: create, append, reopen with truncation (resume), a writer that stopped
// half-way (HDF5 rows beyond the commit, CSV line missing), column mismatch, NaN/inf round trip,
// CSV text, reading a run directory, a .h5 or a .csv, the `ril info` summary, and buffered rows
// (held until flush / close / the row or age limit; a killed buffered writer keeps what it flushed).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "ril/common/error.h"
#include "ril/io/file_summary.h"
#include "ril/io/h5_file.h"
#include "ril/io/metrics_table.h"
#include "support/temp_dir.h"

using ril::io::H5File;
using ril::io::MetricsData;
using ril::io::MetricsTable;
using ril::io::read_metrics;

namespace {

const std::vector<std::string> kColumns = {"reward_student", "kl", "tokens_per_s"};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<double> row(int64_t step) {
  return {0.5 + 0.01 * static_cast<double>(step), 1.0 / static_cast<double>(step + 3), 1000.0 * static_cast<double>(step)};
}

void append_steps(MetricsTable& t, int64_t from, int64_t to) {
  for (int64_t s = from; s <= to; ++s) t.append(s, row(s));
}

std::string expected_csv(int64_t from, int64_t to) {
  MetricsData d;
  d.columns = kColumns;
  d.values.resize(kColumns.size());
  for (int64_t s = from; s <= to; ++s) {
    d.steps.push_back(s);
    for (size_t c = 0; c < kColumns.size(); ++c) d.values[c].push_back(row(s)[c]);
  }
  return ril::io::metrics_csv_text(d);
}

void expect_rows(const MetricsData& d, int64_t from, int64_t to) {
  ASSERT_EQ(d.columns, kColumns);
  ASSERT_EQ(d.rows(), to - from + 1);
  ASSERT_EQ(d.values.size(), kColumns.size());
  for (int64_t s = from; s <= to; ++s) {
    const size_t r = static_cast<size_t>(s - from);
    EXPECT_EQ(d.steps[r], s);
    for (size_t c = 0; c < kColumns.size(); ++c) EXPECT_EQ(d.values[c][r], row(s)[c]) << "step " << s << " col " << c;
  }
}

}  // namespace

TEST(MetricsTable, CreateAppendRead) {
  ril::test::TempDir dir;
  const std::string run = dir.path() + "/run";  // created by open()
  {
    MetricsTable t = MetricsTable::open(run, kColumns, 0);
    EXPECT_EQ(t.columns(), kColumns);
    EXPECT_EQ(t.rows(), 0);
    EXPECT_EQ(t.last_step(), -1);
    EXPECT_EQ(slurp(run + "/metrics.csv"), "step,reward_student,kl,tokens_per_s\n");
    append_steps(t, 1, 5);
    EXPECT_EQ(t.rows(), 5);
    EXPECT_EQ(t.last_step(), 5);
    // Flushed before append() returns: readable while the writer holds the table.
    EXPECT_EQ(slurp(t.csv_path()), expected_csv(1, 5));
    expect_rows(read_metrics(t.csv_path()), 1, 5);
  }
  expect_rows(read_metrics(run), 1, 5);
  expect_rows(read_metrics(run + "/metrics.h5"), 1, 5);
  expect_rows(read_metrics(run + "/metrics.csv"), 1, 5);
  EXPECT_EQ(slurp(run + "/metrics.csv"), expected_csv(1, 5));
  EXPECT_EQ(read_metrics(run).source, run + "/metrics.h5");
}

TEST(MetricsTable, CsvTextIsExact) {
  MetricsData d;
  d.columns = {"a", "b"};
  d.steps = {1, 2, 10};
  d.values = {{0.1, -2.5, 1e-300}, {std::nan(""), std::numeric_limits<double>::infinity(), -0.0}};
  EXPECT_EQ(ril::io::metrics_csv_text(d), "step,a,b\n1,0.1,nan\n2,-2.5,inf\n10,1e-300,-0\n");
}

TEST(MetricsTable, ReopenKeepsOrTruncates) {
  ril::test::TempDir dir;
  {
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0);
    append_steps(t, 1, 10);
  }
  {
    // kKeepAllRows: everything stays, appending continues after the last step.
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, ril::io::kKeepAllRows);
    EXPECT_EQ(t.rows(), 10);
    EXPECT_EQ(t.last_step(), 10);
    append_steps(t, 11, 12);
  }
  expect_rows(read_metrics(dir.path()), 1, 12);
  {
    // Resumed from the checkpoint of step 6: rows 7..12 go, 7.. are logged again.
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 6);
    EXPECT_EQ(t.rows(), 6);
    EXPECT_EQ(t.last_step(), 6);
    EXPECT_EQ(slurp(t.csv_path()), expected_csv(1, 6));
    expect_rows(read_metrics(t.csv_path()), 1, 6);
    append_steps(t, 7, 9);
  }
  expect_rows(read_metrics(dir.path()), 1, 9);
  EXPECT_EQ(slurp(dir.path() + "/metrics.csv"), expected_csv(1, 9));
  {
    // Keep-through beyond the last step: nothing dropped.
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 100);
    EXPECT_EQ(t.rows(), 9);
  }
  {
    // A fresh run (0) in the same directory starts over.
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0);
    EXPECT_EQ(t.rows(), 0);
    append_steps(t, 1, 2);
  }
  expect_rows(read_metrics(dir.path()), 1, 2);
  EXPECT_EQ(slurp(dir.path() + "/metrics.csv"), expected_csv(1, 2));
  // No temporaries left behind.
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST(MetricsTable, StepsMustIncreaseAndRowsFit) {
  ril::test::TempDir dir;
  MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0);
  t.append(3, row(3));
  EXPECT_THROW(t.append(3, row(3)), ril::Error);
  EXPECT_THROW(t.append(2, row(2)), ril::Error);
  EXPECT_THROW(t.append(4, {1.0, 2.0}), ril::Error);
  t.append(4, row(4));
  EXPECT_EQ(t.rows(), 2);
  t.close();
  MetricsData d = read_metrics(dir.path());
  EXPECT_EQ(d.steps, (std::vector<int64_t>{3, 4}));
}

TEST(MetricsTable, ColumnMismatchNamesBothLists) {
  ril::test::TempDir dir;
  MetricsTable::open(dir.path(), kColumns, 0).append(1, row(1));
  const std::vector<std::string> other = {"reward_student", "kl", "disc_loss"};
  try {
    MetricsTable::open(dir.path(), other, ril::io::kKeepAllRows);
    FAIL() << "expected a column mismatch";
  } catch (const ril::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("[reward_student, kl, tokens_per_s]"), std::string::npos) << what;
    EXPECT_NE(what.find("[reward_student, kl, disc_loss]"), std::string::npos) << what;
  }
  // Order matters too.
  EXPECT_THROW(MetricsTable::open(dir.path(), {"kl", "reward_student", "tokens_per_s"}, 0), ril::Error);
  // The refused open changed nothing.
  EXPECT_EQ(read_metrics(dir.path()).rows(), 1);
}

TEST(MetricsTable, BadColumnNames) {
  ril::test::TempDir dir;
  EXPECT_THROW(MetricsTable::open(dir.path(), {"a,b"}, 0), ril::ConfigError);
  EXPECT_THROW(MetricsTable::open(dir.path(), {"step"}, 0), ril::ConfigError);
  EXPECT_THROW(MetricsTable::open(dir.path(), {"x/y"}, 0), ril::ConfigError);
  EXPECT_THROW(MetricsTable::open(dir.path(), {"a", "a"}, 0), ril::Error);
  EXPECT_THROW(MetricsTable::open(dir.path(), {}, 0), ril::Error);
  EXPECT_THROW(MetricsTable::open(dir.path(), kColumns, -2), ril::Error);
}

TEST(MetricsTable, NanAndInfSurvive) {
  ril::test::TempDir dir;
  const double inf = std::numeric_limits<double>::infinity();
  {
    MetricsTable t = MetricsTable::open(dir.path(), {"a", "b"}, 0);
    t.append(1, {std::nan(""), inf});
    t.append(2, {-inf, 0.1});
  }
  for (const std::string& source : {dir.path(), dir.path() + "/metrics.h5", dir.path() + "/metrics.csv"}) {
    const MetricsData d = read_metrics(source);
    ASSERT_EQ(d.rows(), 2) << source;
    EXPECT_TRUE(std::isnan(d.values[0][0])) << source;
    EXPECT_EQ(d.values[1][0], inf) << source;
    EXPECT_EQ(d.values[0][1], -inf) << source;
    EXPECT_EQ(d.values[1][1], 0.1) << source;
  }
  EXPECT_EQ(slurp(dir.path() + "/metrics.csv"), "step,a,b\n1,nan,inf\n2,-inf,0.1\n");
}

// A writer killed inside append(): HDF5 rows beyond the commit, and (separately) a committed
// row whose CSV line never got written. Reopening repairs both from the committed HDF5 rows.
TEST(MetricsTable, HalfWrittenRowsAreRepairedOnOpen) {
  ril::test::TempDir dir;
  {
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0);
    append_steps(t, 1, 4);
  }
  {
    H5File f = H5File::open(dir.path() + "/metrics.h5", ril::io::kMetricsKind, ril::io::OpenMode::kReadWrite);
    const int64_t step = 5;
    const double v = 42.0;
    f.append_rows("metrics/step", 1, &step);
    f.append_rows("metrics/reward_student", 1, &v);  // the other columns never got theirs
    f.flush();
  }
  // Readers see committed rows only; the CSV is unchanged.
  expect_rows(read_metrics(dir.path() + "/metrics.h5"), 1, 4);
  {
    // The CSV lost its last line and holds half of a next one.
    std::string csv = expected_csv(1, 3) + "4,0.5";
    std::ofstream(dir.path() + "/metrics.csv", std::ios::binary | std::ios::trunc) << csv;
    expect_rows(read_metrics(dir.path() + "/metrics.csv"), 1, 3);  // the partial line is ignored
  }
  {
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, ril::io::kKeepAllRows);
    EXPECT_EQ(t.rows(), 4);
    EXPECT_EQ(slurp(t.csv_path()), expected_csv(1, 4));
    append_steps(t, 5, 6);
  }
  expect_rows(read_metrics(dir.path()), 1, 6);
  EXPECT_EQ(slurp(dir.path() + "/metrics.csv"), expected_csv(1, 6));
  const H5File f = H5File::open(dir.path() + "/metrics.h5", ril::io::kMetricsKind);
  for (const std::string& c : kColumns) EXPECT_EQ(f.shape("metrics/" + c)[0], 6) << c;
}

// Another process holds the table (HDF5 locks metrics.h5): a reader of the run directory still
// gets every row, from metrics.csv when the HDF5 file cannot be opened. A damaged metrics.h5
// falls back to the CSV the same way.
TEST(MetricsTable, ReadWhileAnotherProcessWrites) {
  ril::test::TempDir dir;
  int ready[2], done[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(done), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(done[1]);
    int status = 0;
    try {
      MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0);
      append_steps(t, 1, 3);
      char c = 1;
      if (::write(ready[1], &c, 1) != 1) status = 2;
      while (::read(done[0], &c, 1) > 0) {
      }
    } catch (...) {
      status = 1;
    }
    ::_exit(status);
  }
  ::close(ready[1]);
  ::close(done[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  const MetricsData d = read_metrics(dir.path());
  ::close(done[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  expect_rows(d, 1, 3);
  std::cout << "  read from " << d.source << " while the writer held the table\n";

  std::ofstream(dir.path() + "/metrics.h5", std::ios::binary | std::ios::trunc) << "not hdf5 at all";
  const MetricsData again = read_metrics(dir.path());
  expect_rows(again, 1, 3);
  EXPECT_EQ(again.source, dir.path() + "/metrics.csv");
  EXPECT_THROW(read_metrics(dir.path() + "/metrics.h5"), ril::Error);
}

TEST(MetricsTable, ReadErrorsNameThePath) {
  ril::test::TempDir dir;
  auto expect_error = [](const std::string& path, const std::string& needle) {
    try {
      read_metrics(path);
      FAIL() << "expected an error for " << path;
    } catch (const ril::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(dir.path() + "/nothing", "does not exist");
  expect_error(dir.path(), "no metrics table in run directory");
  H5File::create(dir.path() + "/other.h5", "dataset").close();
  expect_error(dir.path() + "/other.h5", "a 'metrics' file is needed");
  std::ofstream(dir.path() + "/bad.csv") << "step,a\n1,xyz\n";
  expect_error(dir.path() + "/bad.csv", "line 2, column 'a': 'xyz' is not a number");
  std::ofstream(dir.path() + "/short.csv") << "step,a,b\n1,2\n";
  expect_error(dir.path() + "/short.csv", "line 2: 2 cells, the header has 3");
}

TEST(MetricsTable, InfoSummary) {
  ril::test::TempDir dir;
  {
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0);
    append_steps(t, 1, 7);
  }
  ril::io::register_kind_summary(ril::io::kMetricsKind, ril::io::summarize_metrics);
  const std::string summary = ril::io::summarize_file(dir.path() + "/metrics.h5");
  EXPECT_NE(summary.find("metrics table: 7 row(s), steps 1..7, 3 column(s)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("columns: reward_student, kl, tokens_per_s"), std::string::npos) << summary;
  EXPECT_NE(summary.find("last row (step 7)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("tokens_per_s   = 7000"), std::string::npos) << summary;
}

// Buffered rows (ril train's setting): held in memory until `rows` are held, flush(), or close /
// destruction; both files get the same rows at each write.
TEST(MetricsTable, BufferedRowsReachBothFilesAtFlushAndClose) {
  ril::test::TempDir dir;
  {
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0, ril::io::MetricsBuffering{4, 0.0});
    append_steps(t, 1, 3);
    EXPECT_EQ(t.rows(), 3);
    EXPECT_EQ(t.written_rows(), 0);
    EXPECT_EQ(t.last_step(), 3);
    EXPECT_EQ(read_metrics(t.csv_path()).rows(), 0);  // held, not written
    t.append(4, row(4));                               // the 4th held row: all four written
    EXPECT_EQ(t.written_rows(), 4);
    expect_rows(read_metrics(t.csv_path()), 1, 4);
    append_steps(t, 5, 6);
    EXPECT_EQ(read_metrics(t.csv_path()).rows(), 4);
    t.flush();
    EXPECT_EQ(t.written_rows(), 6);
    expect_rows(read_metrics(t.csv_path()), 1, 6);
    t.flush();  // nothing held: nothing written
    EXPECT_EQ(t.written_rows(), 6);
    append_steps(t, 7, 8);
    EXPECT_THROW(t.append(8, row(8)), ril::Error);  // steps must increase, held rows included
  }  // the destructor writes steps 7 and 8
  expect_rows(read_metrics(dir.path()), 1, 8);
  expect_rows(read_metrics(dir.path() + "/metrics.csv"), 1, 8);
  EXPECT_EQ(slurp(dir.path() + "/metrics.csv"), expected_csv(1, 8));
  {
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, ril::io::kKeepAllRows, ril::io::MetricsBuffering{100, 0.0});
    append_steps(t, 9, 10);
    t.close();  // writes them
    t.close();  // idempotent
  }
  expect_rows(read_metrics(dir.path()), 1, 10);
  EXPECT_EQ(slurp(dir.path() + "/metrics.csv"), expected_csv(1, 10));
}

TEST(MetricsTable, BufferedRowsAreWrittenOnceTheOldestIsOld) {
  ril::test::TempDir dir;
  MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0, ril::io::MetricsBuffering{1000, 0.05});
  append_steps(t, 1, 2);
  EXPECT_EQ(t.written_rows(), 0);
  ::usleep(80000);
  t.append(3, row(3));  // the oldest held row is 80 ms old: all three written
  EXPECT_EQ(t.written_rows(), 3);
  expect_rows(read_metrics(t.csv_path()), 1, 3);
}

// A buffered writer killed with SIGKILL after flush() at step 4 (as `ril train` flushes before
// the step-4 checkpoint) and three held rows: the files hold steps 1..4 and agree; the resumed
// table (keep_through_step 4) continues at step 5 with nothing duplicated or missing.
TEST(MetricsTable, BufferedWriterKilledKeepsFlushedRows) {
  ril::test::TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      MetricsTable t = MetricsTable::open(dir.path(), kColumns, 0, ril::io::kTrainMetricsBuffering);
      append_steps(t, 1, 4);
      t.flush();
      append_steps(t, 5, 7);
      ::kill(::getpid(), SIGKILL);
    } catch (...) {
    }
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  expect_rows(read_metrics(dir.path()), 1, 4);
  expect_rows(read_metrics(dir.path() + "/metrics.csv"), 1, 4);
  {
    MetricsTable t = MetricsTable::open(dir.path(), kColumns, 4, ril::io::kTrainMetricsBuffering);
    EXPECT_EQ(t.rows(), 4);
    append_steps(t, 5, 9);
  }
  expect_rows(read_metrics(dir.path()), 1, 9);
  EXPECT_EQ(slurp(dir.path() + "/metrics.csv"), expected_csv(1, 9));
}
