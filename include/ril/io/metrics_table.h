// The metrics table of a training run: one row per logged step, a fixed list of float64 columns,
// kept twice in the run directory:
//   <run_dir>/metrics.h5   the record (kind "metrics", format_version checked on open);
//   <run_dir>/metrics.csv  the same rows as text, for a spreadsheet or `tail -f`:
//                          "step,<col>,<col>,...\n" then one line per row; values in the
//                          shortest form that reads back to the same double ("nan", "inf").
//
// HDF5 layout:
//   /                    kind="metrics", format_version, metrics_version=1,
//                        columns ("a,b,c": the column names in table order)
//   /metrics             group; attribute `rows` (int64): rows known complete
//   /metrics/step        int64 [rows], extendable
//   /metrics/<column>    float64 [rows] per column, extendable (NaN and inf kept as they are)
//
// Writer protocol (a write of the rows appended so far): every dataset gets the rows, the file
// is flushed, THEN `rows` is advanced and the file flushed again; then the CSV lines are written
// with one write(2) (O_APPEND). A reader of the CSV therefore sees whole lines only (a line
// without its '\n' would be the one being written: read_metrics() ignores it). metrics.h5 is the
// authority: open() rewrites metrics.csv from it whenever the two differ (e.g. a writer killed
// between the HDF5 commit and the CSV lines), so the files agree again before the next row.
//
// Buffering (MetricsBuffering): by default append() writes its row before it returns (one such
// write per row: ~0.3-2 ms, two H5Fflush and a write(2)). With buffering.rows > 1 rows are held
// in memory and written together when `rows` are held, when the oldest held row is `seconds` old
// (checked at the next append), at flush(), and at close() / destruction (normal exit, the
// SIGTERM/SIGINT stop of `ril train`, an exception unwinding). A process killed with SIGKILL
// (or MPI_Abort) loses its held rows: `ril train` calls flush() before every checkpoint, so those
// rows all have step > the last checkpoint, and the resumed run, which drops such rows anyway
// (below), logs them again. Both files always hold the same rows (the same writes reach both).
//
// Resuming: open(run_dir, columns, keep_through_step) drops the rows with
// step > keep_through_step (and rows beyond `rows` that a killed writer left), rewriting both
// files atomically (temporary + rename; metrics.h5 through io/atomic_file.h with fsync,
// metrics.csv without: open() rebuilds it from metrics.h5 whenever they differ) when anything is
// dropped. A run
// resumed from the checkpoint of step s passes s and continues without duplicated rows; a fresh
// run passes 0 (its first row is step 1: step = optimizer updates done when the row is logged),
// which drops every row of an earlier run in the same directory except a step-0 row.
// kKeepAllRows (-1) keeps everything.
//
// The writer keeps metrics.h5 open (HDF5 locks it), so `ril plot` of a live run cannot open the
// HDF5 file; read_metrics() of a run directory then reads metrics.csv instead.
// Which ranks call: one rank writes (the metrics rank, RankGroups::is_metrics_rank()); any
// process reads. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ril/io/h5_file.h"

namespace ril::io {

inline constexpr const char* kMetricsKind = "metrics";
inline constexpr int64_t kMetricsVersion = 1;
inline constexpr int64_t kKeepAllRows = -1;
inline constexpr const char* kMetricsH5Name = "metrics.h5";
inline constexpr const char* kMetricsCsvName = "metrics.csv";

// A column name is non-empty, at most 64 characters of [A-Za-z0-9_.:-], not "step", "." or "..":
// it is an HDF5 dataset name and a CSV header cell, so nothing there needs quoting.
// Throws ConfigError naming the bad name.
void check_metric_name(const std::string& name);

struct MetricsBuffering {
  int64_t rows = 1;      // rows held before a write; 1: append() writes its row at once
  double seconds = 0.0;  // > 0: also write once the oldest held row is this old (at an append)
};
// What `ril train` uses (the metrics rank also calls flush() before each checkpoint): a live run's
// metrics.csv lags by at most ~2 s plus one step; bench_h5 measures this setting.
inline constexpr MetricsBuffering kTrainMetricsBuffering{1024, 2.0};

class MetricsTable {
 public:
  // Opens or creates the table in `run_dir` (created if absent). `columns` are fixed when the
  // file is created; on reopen they must be the same, in the same order, else ril::Error naming
  // both lists. Rows with step > keep_through_step are dropped (see above; kKeepAllRows keeps
  // all). Throws ril::Error for a damaged or foreign metrics.h5 (naming the path).
  static MetricsTable open(const std::string& run_dir, const std::vector<std::string>& columns,
                           int64_t keep_through_step, const MetricsBuffering& buffering = {});

  MetricsTable(MetricsTable&&) noexcept;
  MetricsTable& operator=(MetricsTable&&) noexcept;
  ~MetricsTable();

  // One row. values.size() == columns().size(); step >= 0 and greater than last_step(). Without
  // buffering, on return the row is in metrics.h5 (committed, H5Fflush) and in metrics.csv
  // (written to the OS); with buffering, it is held until a write (see above). Throws ril::Error
  // otherwise, with both sizes or both steps.
  void append(int64_t step, const std::vector<double>& values);
  // Writes the held rows now (as above); nothing when none are held.
  void flush();

  const std::vector<std::string>& columns() const;
  int64_t rows() const;          // appended rows, held ones included
  int64_t written_rows() const;  // rows in the files
  int64_t last_step() const;     // -1 when there are no rows
  const std::string& h5_path() const;
  const std::string& csv_path() const;
  // Writes the held rows and closes both files; idempotent. The destructor closes too (a failure
  // there is logged, not thrown).
  void close();

 private:
  struct State;
  explicit MetricsTable(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

struct MetricsData {
  std::vector<std::string> columns;
  std::vector<int64_t> steps;
  std::vector<std::vector<double>> values;  // values[col][row]
  std::string source;                       // the file read

  int64_t rows() const { return static_cast<int64_t>(steps.size()); }
  // Index of a column, or -1.
  int64_t column_index(const std::string& name) const;
};

// Reads a metrics table: a run directory (its metrics.h5; metrics.csv when the HDF5 file is
// missing or cannot be opened, e.g. held by a live run), a metrics.h5 file, or a metrics.csv
// file. Only committed rows (HDF5) / complete lines (CSV). Throws ril::Error naming the path
// when nothing readable is there, or a CSV line (with its number) that does not parse.
MetricsData read_metrics(const std::string& path_or_run_dir);

// The text of metrics.csv for `data` (header + one line per row), as the writer writes it.
std::string metrics_csv_text(const MetricsData& data);

// `ril info metrics.h5`: rows, step range, columns, and the last row.
std::string summarize_metrics(const H5File& file);

}  // namespace ril::io
