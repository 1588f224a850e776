#include "ril/io/metrics_table.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/paths.h"
#include "ril/io/atomic_file.h"

namespace ril::io {
namespace {

constexpr const char* kGroup = "metrics";
constexpr const char* kStepName = "metrics/step";

std::string column_dataset(const std::string& column) { return std::string(kGroup) + "/" + column; }

std::string join(const std::vector<std::string>& names, const char* sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? sep : "") + names[i];
  return out;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}


bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Shortest text that reads back (strtod) to the same double; "nan", "inf", "-inf".
std::string format_value(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[64];
  const std::to_chars_result r = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, r.ptr);
}

// Appends "step,v,v,...\n" to `out` (format_value's text for each value, without temporaries).
void append_csv_line(std::string& out, int64_t step, const double* values, size_t count) {
  char buffer[64];
  out.append(buffer, static_cast<size_t>(std::to_chars(buffer, buffer + sizeof(buffer), step).ptr - buffer));
  for (size_t i = 0; i < count; ++i) {
    const double v = values[i];
    out += ',';
    if (std::isnan(v)) {
      out += "nan";
    } else if (std::isinf(v)) {
      out += v > 0 ? "inf" : "-inf";
    } else {
      out.append(buffer, static_cast<size_t>(std::to_chars(buffer, buffer + sizeof(buffer), v).ptr - buffer));
    }
  }
  out += '\n';
}

std::string csv_line(int64_t step, const std::vector<double>& values) {
  std::string line;
  append_csv_line(line, step, values.data(), values.size());
  return line;
}

std::string csv_header(const std::vector<std::string>& columns) {
  std::string line = "step";
  for (const std::string& c : columns) line += "," + c;
  return line + "\n";
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_all(int fd, const std::string& text, const std::string& path) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(cat("cannot write to '", path, "': ", std::strerror(errno)));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Replaces metrics.csv with `text`: a temporary `<path>.tmp.<pid>` (the AtomicFile name, so
// remove_stale_temporaries finds a killed writer's), then rename(2). Readers see the old or the
// new file, never a torn one. No fsync: metrics.h5 is the record and open() rewrites the CSV
// from it whenever the two differ, so a CSV that a power failure emptied is rebuilt by the next
// open (the appended lines were never fsync'd either). Two fsyncs fewer per open.
void replace_csv(const std::string& path, const std::string& text) {
  StaleTemporaryOptions stale;  // as AtomicFile does: a dead writer's temporaries of this file
  stale.only_target = std::filesystem::path(path).filename().string();
  const std::string directory = std::filesystem::path(path).parent_path().string();
  remove_stale_temporaries(directory.empty() ? "." : directory, stale);
  const std::string temp = cat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(cat("cannot create '", temp, "': ", std::strerror(errno)));
  try {
    write_all(fd, text, temp);
  } catch (...) {
    ::close(fd);
    std::remove(temp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(temp.c_str());
    throw Error(cat("cannot rename '", temp, "' to '", path, "': ", std::strerror(saved)));
  }
}

// Committed rows of an open metrics file. `lengths_ok` is false when a dataset holds rows beyond
// `rows` (a writer stopped inside append): the caller rewrites the file.
MetricsData read_h5(const H5File& f, bool* extra_rows = nullptr) {
  MetricsData data;
  data.source = f.path();
  RIL_CHECK(f.has_attr("/", "columns") && f.is_group(kGroup) && f.has_attr(kGroup, "rows") && f.exists(kStepName),
            "metrics file '", f.path(), "' lacks the root attribute 'columns', the group '/", kGroup,
            "' with attribute 'rows', or '/", kStepName, "': it is damaged; remove it (the run's metrics.csv "
            "has the same rows as text)");
  data.columns = split(f.attr_string("/", "columns"), ',');
  const int64_t rows = f.attr_int(kGroup, "rows");
  bool extra = false;
  auto read_column = [&](const std::string& name) {
    const std::vector<int64_t> shape = f.shape(name);
    RIL_CHECK(shape.size() == 1 && shape[0] >= rows, "metrics file '", f.path(), "': dataset '", name, "' has ",
              shape.empty() ? int64_t{0} : shape[0], " rows but ", rows,
              " are committed: the file is damaged; remove it (metrics.csv has the same rows as text)");
    extra |= shape[0] > rows;
    return rows > 0 ? f.read_rows(name, 0, rows) : RawArray{};
  };
  const RawArray steps = read_column(kStepName);
  RIL_CHECK(rows == 0 || steps.type == ElementType::kInt64, "metrics file '", f.path(), "': '", kStepName,
            "' is ", element_type_name(steps.type), ", not int64");
  data.steps.assign(steps.as<int64_t>(), steps.as<int64_t>() + rows);
  for (const std::string& c : data.columns) {
    RIL_CHECK(f.exists(column_dataset(c)), "metrics file '", f.path(), "' names column '", c,
              "' but has no dataset '/", column_dataset(c), "': the file is damaged");
    const RawArray values = read_column(column_dataset(c));
    RIL_CHECK(rows == 0 || values.type == ElementType::kFloat64, "metrics file '", f.path(), "': column '", c,
              "' is ", element_type_name(values.type), ", not float64");
    data.values.emplace_back(values.as<double>(), values.as<double>() + rows);
  }
  if (extra_rows) *extra_rows = extra;
  return data;
}

MetricsData read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat("cannot read metrics file '", path, "': ", std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  MetricsData data;
  data.source = path;
  size_t pos = 0;
  int64_t line_number = 0;
  bool header = true;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // the line being written: not complete yet
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    const std::vector<std::string> cells = split(line, ',');
    if (header) {
      RIL_CHECK(!cells.empty() && cells[0] == "step", "metrics file '", path, "' line 1: the header must start with "
                "'step', got '", line.substr(0, 80), "'");
      data.columns.assign(cells.begin() + 1, cells.end());
      data.values.resize(data.columns.size());
      header = false;
      continue;
    }
    RIL_CHECK(cells.size() == data.columns.size() + 1, "metrics file '", path, "' line ", line_number, ": ",
              cells.size(), " cells, the header has ", data.columns.size() + 1);
    char* stop = nullptr;
    errno = 0;
    const long long step = std::strtoll(cells[0].c_str(), &stop, 10);
    RIL_CHECK(!cells[0].empty() && *stop == '\0' && errno == 0, "metrics file '", path, "' line ", line_number,
              ": step '", cells[0], "' is not an integer");
    data.steps.push_back(step);
    for (size_t c = 0; c < data.columns.size(); ++c) {
      const std::string& cell = cells[c + 1];
      const double v = std::strtod(cell.c_str(), &stop);
      RIL_CHECK(!cell.empty() && *stop == '\0', "metrics file '", path, "' line ", line_number, ", column '",
                data.columns[c], "': '", cell, "' is not a number");
      data.values[c].push_back(v);
    }
  }
  RIL_CHECK(!header, "metrics file '", path, "' has no header line (empty file?)");
  return data;
}

// Writes a complete metrics file for `data` at `path`, atomically.
void write_h5_atomic(const std::string& path, const MetricsData& data) {
  AtomicFile atomic(path);
  {
    H5File f = H5File::create(atomic.temp_path(), kMetricsKind, /*overwrite=*/true);
    f.set_attr("/", "metrics_version", kMetricsVersion);
    f.set_attr("/", "columns", join(data.columns, ","));
    f.create_group(kGroup);
    DatasetOptions ext;
    ext.extendable = true;
    ext.chunk_rows = 1024;
    ext.compression = 0;  // one 8-byte row per append, written in place (H5File::append_rows)
    f.write_vector<int64_t>(kStepName, data.steps, ext);
    for (size_t c = 0; c < data.columns.size(); ++c) {
      f.write_vector<double>(column_dataset(data.columns[c]), data.values[c], ext);
    }
    f.set_attr(kGroup, "rows", data.rows());
    f.close();
  }
  atomic.commit();
}

}  // namespace

void check_metric_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name != "step" && name != "." && name != "..";
  for (char ch : name) {
    ok &= std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == ':' || ch == '-';
  }
  RIL_CONFIG_CHECK(ok, "metric name '", name, "' is not allowed: use 1-64 characters of [A-Za-z0-9_.:-], "
                   "not 'step'");
}

int64_t MetricsData::column_index(const std::string& name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  return it == columns.end() ? -1 : static_cast<int64_t>(it - columns.begin());
}

std::string metrics_csv_text(const MetricsData& data) {
  std::string text = csv_header(data.columns);
  std::vector<double> row(data.columns.size());
  for (size_t r = 0; r < data.steps.size(); ++r) {
    for (size_t c = 0; c < row.size(); ++c) row[c] = data.values[c][r];
    text += csv_line(data.steps[r], row);
  }
  return text;
}

struct MetricsTable::State {
  std::string h5_path, csv_path;
  std::vector<std::string> columns;
  std::unique_ptr<H5File> file;
  int csv_fd = -1;
  MetricsBuffering buffering;
  int64_t rows = 0;        // rows in both files (committed in metrics.h5)
  int64_t last_step = -1;  // of every row appended, held ones included
  bool broken = false;     // a write failed half-way: the datasets may disagree with `rows`
  // Rows appended but not written yet (append() with buffering.rows > 1), column by column.
  std::vector<int64_t> held_steps;
  std::vector<std::vector<double>> held_values;  // [column][row]
  std::string held_csv;                          // their metrics.csv lines
  std::chrono::steady_clock::time_point held_since;

  // Writes the held rows: every dataset gets them, the file is flushed, THEN `rows` is advanced
  // and the file flushed again; then their CSV lines in one write(2) (see the header).
  void write_held() {
    if (held_steps.empty()) return;
    RIL_CHECK(!broken, "an earlier write to metrics table '", h5_path, "' failed half-way; reopen the table");
    H5File& f = *file;
    const int64_t n = static_cast<int64_t>(held_steps.size());
    broken = true;
    f.append_rows(kStepName, n, held_steps.data());
    for (size_t c = 0; c < columns.size(); ++c) f.append_rows(column_dataset(columns[c]), n, held_values[c].data());
    f.flush();
    f.set_attr(kGroup, "rows", rows + n);
    f.flush();
    rows += n;
    broken = false;
    // After the HDF5 commit: a writer killed here leaves the CSV short of these lines, and the
    // next open() rewrites it from metrics.h5.
    const std::string csv = std::move(held_csv);
    held_csv.clear();
    held_steps.clear();
    for (auto& v : held_values) v.clear();
    write_all(csv_fd, csv, csv_path);
  }

  void close() {
    // The held rows first; the files are closed even when that fails (the error propagates).
    try {
      if (file && csv_fd >= 0 && !broken) write_held();
    } catch (...) {
      close_files();
      throw;
    }
    close_files();
  }
  void close_files() {
    if (file) {
      file->close();
      file.reset();
    }
    if (csv_fd >= 0) {
      ::close(csv_fd);
      csv_fd = -1;
    }
  }
  ~State() {
    try {
      close();
    } catch (const std::exception& e) {
      log_warn("metrics", "closing ", h5_path, ": ", e.what());
    } catch (...) {
    }
  }
};

MetricsTable::MetricsTable(std::unique_ptr<State> state) : state_(std::move(state)) {}
MetricsTable::MetricsTable(MetricsTable&&) noexcept = default;
MetricsTable& MetricsTable::operator=(MetricsTable&&) noexcept = default;
MetricsTable::~MetricsTable() = default;

MetricsTable MetricsTable::open(const std::string& run_dir, const std::vector<std::string>& columns,
                                int64_t keep_through_step, const MetricsBuffering& buffering) {
  RIL_CHECK(buffering.rows >= 1 && buffering.seconds >= 0, "MetricsTable::open: buffering rows must be >= 1 and "
            "seconds >= 0, got ", buffering.rows, " and ", buffering.seconds);
  RIL_CHECK(keep_through_step >= kKeepAllRows, "MetricsTable::open: keep_through_step must be >= -1, got ",
            keep_through_step);
  RIL_CHECK(!columns.empty(), "MetricsTable::open: no columns for the metrics table in '", run_dir, "'");
  std::set<std::string> seen;
  for (const std::string& c : columns) {
    check_metric_name(c);
    RIL_CHECK(seen.insert(c).second, "metric column '", c, "' appears twice in [", join(columns, ", "), "]");
  }
  std::filesystem::create_directories(run_dir);
  auto state = std::make_unique<State>();
  state->h5_path = (std::filesystem::path(run_dir) / kMetricsH5Name).string();
  state->csv_path = (std::filesystem::path(run_dir) / kMetricsCsvName).string();
  state->columns = columns;
  state->buffering = buffering;
  state->held_values.resize(columns.size());

  MetricsData kept;
  kept.columns = columns;
  kept.values.resize(columns.size());
  bool rewrite = true;
  if (path_exists(state->h5_path)) {
    bool extra = false;
    {
      const H5File f = H5File::open(state->h5_path, kMetricsKind);
      kept = read_h5(f, &extra);
    }
    if (kept.columns != columns) {
      throw Error(cat("metrics table '", state->h5_path, "' has the columns [", join(kept.columns, ", "),
                      "] but this run logs [", join(columns, ", "), "]; use another --run-dir, or move the old ",
                      kMetricsH5Name, " and ", kMetricsCsvName, " away"));
    }
    // Steps increase, so the kept rows are a prefix.
    size_t keep = kept.steps.size();
    if (keep_through_step != kKeepAllRows) {
      keep = static_cast<size_t>(std::upper_bound(kept.steps.begin(), kept.steps.end(), keep_through_step) -
                                 kept.steps.begin());
    }
    const size_t dropped = kept.steps.size() - keep;
    kept.steps.resize(keep);
    for (auto& v : kept.values) v.resize(keep);
    rewrite = extra || dropped > 0;
    if (dropped > 0) {
      log_info("metrics", "dropping ", dropped, " row(s) with step > ", keep_through_step, " from ", state->h5_path,
               " and ", kMetricsCsvName);
    }
  }
  if (rewrite) write_h5_atomic(state->h5_path, kept);
  const std::string csv = metrics_csv_text(kept);
  if (!path_exists(state->csv_path) || read_whole_file(state->csv_path) != csv) {
    replace_csv(state->csv_path, csv);
  }
  state->file = std::make_unique<H5File>(H5File::open(state->h5_path, kMetricsKind, OpenMode::kReadWrite));
  state->csv_fd = ::open(state->csv_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (state->csv_fd < 0) throw Error(cat("cannot open '", state->csv_path, "' for appending: ", std::strerror(errno)));
  state->rows = kept.rows();
  state->last_step = kept.steps.empty() ? -1 : kept.steps.back();
  return MetricsTable(std::move(state));
}

void MetricsTable::append(int64_t step, const std::vector<double>& values) {
  State& s = *state_;
  RIL_CHECK(s.file && s.csv_fd >= 0, "metrics table '", s.h5_path, "' is closed");
  RIL_CHECK(!s.broken, "an earlier append to metrics table '", s.h5_path, "' failed half-way; reopen the table");
  RIL_CHECK(values.size() == s.columns.size(), "metrics row for step ", step, " has ", values.size(),
            " values, the table has ", s.columns.size(), " columns [", join(s.columns, ", "), "]");
  RIL_CHECK(step >= 0 && step > s.last_step, "metrics row for step ", step, " after step ", s.last_step, " in '",
            s.h5_path, "': steps must increase");
  const auto now = std::chrono::steady_clock::now();
  if (s.held_steps.empty()) s.held_since = now;
  s.held_steps.push_back(step);
  for (size_t c = 0; c < values.size(); ++c) s.held_values[c].push_back(values[c]);
  append_csv_line(s.held_csv, step, values.data(), values.size());
  s.last_step = step;
  const bool full = static_cast<int64_t>(s.held_steps.size()) >= s.buffering.rows;
  const bool old = s.buffering.seconds > 0 &&
                   std::chrono::duration<double>(now - s.held_since).count() >= s.buffering.seconds;
  if (full || old) s.write_held();
}

void MetricsTable::flush() {
  State& s = *state_;
  RIL_CHECK(s.file && s.csv_fd >= 0, "metrics table '", s.h5_path, "' is closed");
  s.write_held();
}

const std::vector<std::string>& MetricsTable::columns() const { return state_->columns; }
int64_t MetricsTable::rows() const {
  return state_->rows + static_cast<int64_t>(state_->held_steps.size());
}
int64_t MetricsTable::written_rows() const { return state_->rows; }
int64_t MetricsTable::last_step() const { return state_->last_step; }
const std::string& MetricsTable::h5_path() const { return state_->h5_path; }
const std::string& MetricsTable::csv_path() const { return state_->csv_path; }
void MetricsTable::close() {
  if (state_) state_->close();
}

MetricsData read_metrics(const std::string& path_or_run_dir) {
  const std::string& path = path_or_run_dir;
  if (is_directory(path)) {
    const std::string h5 = (std::filesystem::path(path) / kMetricsH5Name).string();
    const std::string csv = (std::filesystem::path(path) / kMetricsCsvName).string();
    if (path_exists(h5)) {
      try {
        return read_h5(H5File::open(h5, kMetricsKind));
      } catch (const Error& e) {
        if (!path_exists(csv)) throw;
        if (std::string(e.what()).find("unable to lock file") != std::string::npos) {
          log_info("metrics", h5, " is held by its writer (a live run): reading ", csv);
        } else {
          log_warn("metrics", "cannot read ", h5, " (", e.what(), "); reading ", csv, " instead");
        }
        return read_csv(csv);
      }
    }
    if (path_exists(csv)) return read_csv(csv);
    throw Error(cat("no metrics table in run directory '", path, "': neither ", kMetricsH5Name, " nor ",
                    kMetricsCsvName, " is there (they are written by `ril train`)"));
  }
  if (!path_exists(path)) {
    throw Error(cat("metrics not found: '", path, "' does not exist (give a run directory, its ", kMetricsH5Name,
                    " or its ", kMetricsCsvName, ")"));
  }
  if (ends_with(path, ".csv")) return read_csv(path);
  return read_h5(H5File::open(path, kMetricsKind));
}

std::string summarize_metrics(const H5File& file) {
  const MetricsData data = read_h5(file);
  std::ostringstream out;
  out << "metrics table: " << data.rows() << " row(s)";
  if (!data.steps.empty()) out << ", steps " << data.steps.front() << ".." << data.steps.back();
  out << ", " << data.columns.size() << " column(s)\n";
  out << "  columns: " << join(data.columns, ", ") << "\n";
  if (!data.steps.empty()) {
    size_t width = 0;
    for (const std::string& c : data.columns) width = std::max(width, c.size());
    out << "  last row (step " << data.steps.back() << "):\n";
    for (size_t c = 0; c < data.columns.size(); ++c) {
      out << "    " << data.columns[c] << std::string(width - data.columns[c].size(), ' ') << " = "
          << format_value(data.values[c].back()) << "\n";
    }
  }
  return out.str();
}

}  // namespace ril::io
