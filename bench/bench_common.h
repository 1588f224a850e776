// Shared pieces of the benchmark programs (bench/*.cpp): what every result file records (machine,
// date, command line, thread settings), the printed table, timers, and the two hardware
// references the benchmarks compare against (memory bandwidth, matmul FLOP/s), measured in the
// same process so that a figure and its bound come from the same machine state.
//
// Every benchmark prints a table on stdout and writes one JSON file:
//   {"bench": name, "machine": {...}, "date": ISO-8601 UTC, "command": argv joined,
//    "settings": {...}, "results": [...], ...}
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

namespace ril::bench {

// ---- record ------------------------------------------------------------------------------------
// hostname, cpu_model (/proc/cpuinfo), cores (hardware threads), mem_total_gib, and the GPU's
// name when `device` is CUDA.
nlohmann::json machine_info(const at::Device& device = at::kCPU);
std::string utc_now_iso();                  // "2026-11-28T10:00:00Z"
std::string command_line(int argc, char** argv);
// The header of every result file: bench, machine, date, command, torch version, intra-op
// threads, and the environment variables that change the figures (OMP/OPENBLAS/MALLOC_*).
nlohmann::json result_header(const std::string& bench, int argc, char** argv,
                             const at::Device& device = at::kCPU);
// Writes `j` to `path` (temporary file + rename, so a reader never sees half a file).
void write_json(const std::string& path, const nlohmann::json& j);
// write_json, then "wrote PATH" on stdout: the end of every benchmark.
void write_result(const std::string& path, const nlohmann::json& j);
// Parses argv against `desc` into `vm` (notified). Returns false after printing the help (only
// when `print_help`, e.g. rank 0 of an MPI benchmark) for --help; throws on bad options.
bool parse_options_or_help(int argc, char** argv, const boost::program_options::options_description& desc,
                           boost::program_options::variables_map& vm, bool print_help = true);

// ---- printing ----------------------------------------------------------------------------------
// A right-aligned text table: header row, dashes, rows.
class Table {
 public:
  explicit Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str() const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};
std::string fmt(double value, int decimals = 1);  // fixed-point
std::string fmt_int(int64_t value);

// ---- timing ------------------------------------------------------------------------------------
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};
// CPU seconds used by this process, all threads (CLOCK_PROCESS_CPUTIME_ID). On a shared, loaded
// machine a single-threaded run's CPU time is much steadier than its wall time (time spent
// waiting for a core is not counted), so the decode benchmarks report both.
double process_cpu_seconds();
// Peak resident set size of this process in MiB (VmHWM of /proc/self/status; -1 when unknown),
// and its reset to the current RSS (writes 5 to /proc/self/clear_refs, Linux >= 4.0; false when
// refused), so that a peak can be taken over one phase of a run.
double peak_rss_mib();
bool reset_peak_rss();
double median(std::vector<double> values);
// Waits for the device's queued work (CUDA); no-op on the CPU. Call before reading a timer.
void sync_device(const at::Device& device);

// ---- devices and dtypes ------------------------------------------------------------------------
at::Device parse_device(const std::string& text);  // "cpu", "cuda", "cuda:N"
at::ScalarType parse_dtype(const std::string& text);  // "fp32"/"float32", "bf16"/"bfloat16"
const char* dtype_name(at::ScalarType dtype);         // "fp32", "bf16"
std::vector<int64_t> parse_int_list(const std::string& text);  // "1,4,16" -> {1, 4, 16}

// ---- hardware references -----------------------------------------------------------------------
struct BandwidthResult {
  double copy_gbs = 0;   // memcpy: counted as read + write bytes
  double triad_gbs = 0;  // a[i] = b[i] + s * c[i]: 3 x 4 bytes per element (STREAM counting)
  double read_gbs = 0;   // sum over a buffer: 4 bytes per element
  int64_t buffer_bytes = 0;
  int threads = 0;
  nlohmann::json to_json() const;
};
// Host memory bandwidth with `threads` std::threads over buffers of `buffer_bytes` each (choose
// well above the last-level cache); best of `reps`.
BandwidthResult measure_host_bandwidth(int64_t buffer_bytes, int threads, int reps = 5);
// Device memory bandwidth (CUDA): a device-to-device copy of `buffer_bytes`, counted as
// read + write; best of `reps`. Returns copy_gbs only (and read_gbs = triad_gbs = copy_gbs).
BandwidthResult measure_device_bandwidth(const at::Device& device, int64_t buffer_bytes, int reps = 10);

// Cost of the first touch of fresh anonymous memory (mmap, one write per 4 KiB page, munmap),
// in microseconds per 4 KiB page, best of `reps`; with `huge`, after madvise(MADV_HUGEPAGE).
// On the development VM this is 13-28 us (bare metal: about 0.1-0.25), which is why freed
// memory handed back to the kernel and taken again dominates several figures there.
double measure_first_touch_us(int64_t bytes, bool huge, int reps = 3);

struct MatmulResult {
  int64_t n = 0;
  double tflops = 0;  // 2 n^3 / best time
  std::string dtype;
  nlohmann::json to_json() const;
};
// An n x n x n matmul in `dtype` on `device`, best of `reps` after one warm-up.
MatmulResult measure_matmul(const at::Device& device, at::ScalarType dtype, int64_t n, int reps = 5);

}  // namespace ril::bench
