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
// Writer protocol (append): every dataset gets its row, the file is flushed, THEN `rows` is
// advanced and the file flushed again; then the CSV line is written with one write(2) of the
// whole line (O_APPEND). A reader of the CSV therefore sees whole lines only (a line without
// its '\n' would be the one being written: read_metrics() ignores it). metrics.h5 is the
// authority: open() rewrites metrics.csv from it whenever the two differ (e.g. a writer killed
// between the HDF5 commit and the CSV line), so the files agree again before the next row.
//
// Resuming: open(run_dir, columns, keep_through_step) drops the rows with
// step > keep_through_step (and rows beyond `rows` that a killed writer left), rewriting both
// files atomically (temporary + rename, io/atomic_file.h) when anything is dropped. A run
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

class MetricsTable {
 public:
  // Opens or creates the table in `run_dir` (created if absent). `columns` are fixed when the
  // file is created; on reopen they must be the same, in the same order, else ril::Error naming
  // both lists. Rows with step > keep_through_step are dropped (see above; kKeepAllRows keeps
  // all). Throws ril::Error for a damaged or foreign metrics.h5 (naming the path).
  static MetricsTable open(const std::string& run_dir, const std::vector<std::string>& columns,
                           int64_t keep_through_step);

  MetricsTable(MetricsTable&&) noexcept;
  MetricsTable& operator=(MetricsTable&&) noexcept;
  ~MetricsTable();

  // One row. values.size() == columns().size(); step >= 0 and greater than last_step(). On
  // return the row is in metrics.h5 (committed, H5Fflush) and in metrics.csv (written to the
  // OS). Throws ril::Error otherwise, with both sizes or both steps.
  void append(int64_t step, const std::vector<double>& values);

  const std::vector<std::string>& columns() const;
  int64_t rows() const;
  int64_t last_step() const;  // -1 when there are no rows
  const std::string& h5_path() const;
  const std::string& csv_path() const;
  void close();  // idempotent; the destructor closes too

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
