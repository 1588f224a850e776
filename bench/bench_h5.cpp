// bench_h5: HDF5 teacher-cache write and read MB/s (io::TeacherCache, the format `ril teach`
// writes and the learner reads) against `dd` moving the same number of bytes on the same disk.
//
// Rows: question_id (int64), sample_index (int32), response text (pseudo-English from a seeded
// 1000-word vocabulary, --response-bytes on average), as `ril teach` writes them. Payload bytes =
// response bytes + 12 per row; MB/s figures are payload MB (1e6 bytes) per second.
//   write        TeacherCache::append of --rows-per-append rows at a time (each append: rows,
//                H5Fflush, `committed` attribute, H5Fflush), then fsync of the file; timed from
//                the open to the end of the fsync (the per-append row vectors are made before). Compared with
//                `dd if=/dev/zero of=F bs=1M count=<payload MiB> conv=fdatasync`.
//   read (warm)  TeacherCache::open + rows() in --read-rows chunks, file in the page cache;
//                compared with `dd if=F of=/dev/null bs=1M`.
//   read (cold)  the same after posix_fadvise(DONTNEED) on the file (drops this file's pages
//                only); dd: `dd if=F iflag=nocache count=0` first, then the read.
//   metrics      io::MetricsTable::open (fresh run directory), append of --metrics-rows rows of
//                --metrics-columns float64 columns, one row per call as `ril train` logs them,
//                with `ril train`'s buffering (io::kTrainMetricsBuffering: rows written 1024 at a
//                time or every 2 s: rows in every dataset, H5Fflush, `rows` attribute, H5Fflush,
//                then the CSV lines; --metrics-buffer-rows 1: one such write per row, as before),
//                close, then fsync of metrics.h5 and metrics.csv; payload 8 * (columns + 1) bytes a row. Compared with
//                dd of the same bytes in 1 MiB blocks and, at the same granularity, one write(2)
//                per row (`dd bs=<row bytes> count=<rows> conv=fdatasync`). Read: read_metrics().
// --repeats paired rounds (each operation, then its dd right after); the table gives medians and
// the median of the per-round ratios (the machine's speed drifts between rounds).
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>

#include "bench_common.h"
#include "ril/io/h5_file.h"
#include "ril/io/metrics_table.h"
#include "ril/io/teacher_cache.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace ril;
using namespace ril::bench;

namespace {

struct H5BenchOptions {
  std::string dir = ".";
  int64_t rows = 200000;
  int64_t response_bytes = 512;
  int64_t rows_per_append = 1024;
  int64_t read_rows = 8192;
  uint64_t seed = 5;
  int64_t metrics_rows = 5000;
  int64_t metrics_columns = 32;
  int64_t metrics_buffer_rows = io::kTrainMetricsBuffering.rows;
  int repeats = 3;
  bool keep = false;
  std::string json = "bench_h5.json";
  bool quick = false;
};

std::vector<std::string> make_vocabulary(std::mt19937_64& rng) {
  std::vector<std::string> words;
  std::uniform_int_distribution<int> len(2, 9), letter(0, 25);
  for (int i = 0; i < 1000; ++i) {
    std::string w;
    for (int k = len(rng); k > 0; --k) w += static_cast<char>('a' + letter(rng));
    words.push_back(w);
  }
  return words;
}

std::string make_response(std::mt19937_64& rng, const std::vector<std::string>& words, int64_t mean_bytes) {
  std::uniform_int_distribution<int64_t> target(mean_bytes / 2, mean_bytes + mean_bytes / 2);
  // Zipf-like word choice: squares of a uniform favour low indices, as common words do.
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int64_t n = target(rng);
  std::string s;
  while (static_cast<int64_t>(s.size()) < n) {
    const double x = u(rng);
    s += words[static_cast<size_t>(x * x * static_cast<double>(words.size() - 1))];
    s += (u(rng) < 0.08) ? ". " : " ";
  }
  s.resize(static_cast<size_t>(n));
  return s;
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path + " for fsync");
  ::fsync(fd);
  ::close(fd);
}

void drop_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

struct Shell {
  int status = 0;
  std::string output;
  double seconds = 0;
};

Shell shell(const std::string& cmd) {
  Shell r;
  Stopwatch w;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((cmd + " 2>&1").c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("cannot run: " + cmd);
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe.get()) != nullptr) r.output += buf;
  r.status = ::pclose(pipe.release());
  r.seconds = w.seconds();
  if (r.status != 0) throw std::runtime_error("failed (" + std::to_string(r.status) + "): " + cmd + "\n" + r.output);
  while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
  return r;
}

int run(const H5BenchOptions& o, int argc, char** argv) {
  const fs::path work = fs::path(o.dir) / ("bench_h5." + std::to_string(::getpid()));
  fs::create_directories(work);
  const std::string dataset = (work / "dataset.h5").string();
  const std::string cache_path = (work / "teacher_cache.h5").string();
  const std::string dd_path = (work / "dd.bin").string();

  // A stand-in dataset file: the cache only reads its root attributes (fingerprint) and count.
  {
    io::H5File d = io::H5File::create(dataset, "dataset");
    d.set_attr("/", "count", o.rows);
    d.set_attr("/", "name", std::string("bench_h5"));
  }

  std::mt19937_64 rng(o.seed);
  const std::vector<std::string> words = make_vocabulary(rng);
  std::vector<io::TeacherRow> all(static_cast<size_t>(o.rows));
  int64_t payload = 0;
  for (int64_t i = 0; i < o.rows; ++i) {
    io::TeacherRow& r = all[static_cast<size_t>(i)];
    r.question_id = i / 4;
    r.sample_index = static_cast<int32_t>(i % 4);
    r.response = make_response(rng, words, o.response_bytes);
    payload += static_cast<int64_t>(r.response.size()) + 12;
  }

  // One round: the cache written (fresh file), then dd writes the same bytes; reads warm (page
  // cache) and cold (this file's pages dropped), each followed by dd's; the metrics table, then
  // dd. Ratios are taken within a round and the median over --repeats rounds is reported: the
  // machine's speed drifts between rounds, a round's pair sees the same conditions.
  const int64_t mib = (payload + (1 << 20) - 1) >> 20;
  const double dd_bytes = static_cast<double>(mib) * (1 << 20);
  const std::string run_dir = (work / "run").string();
  std::vector<std::string> columns;
  for (int64_t c = 0; c < o.metrics_columns; ++c) columns.push_back("metric_" + std::to_string(c));
  const int64_t metrics_row_bytes = 8 * (o.metrics_columns + 1);
  const double metrics_payload = static_cast<double>(metrics_row_bytes * o.metrics_rows);
  const std::string metrics_dd_path = (work / "dd_metrics.bin").string();
  const int64_t metrics_mib = std::max<int64_t>(1, static_cast<int64_t>(metrics_payload + (1 << 20) - 1) >> 20);
  const double dd_metrics_bulk_bytes = static_cast<double>(metrics_mib) * (1 << 20);

  auto write_cache = [&](double* before_fsync) {
    fs::remove(cache_path);
    // The rows of each append, copied before the clock starts (and freed after it stops, as the
    // copies were before): the timed part is the cache's. Copying 105 MB of strings into the
    // per-append vectors was ~25 ms of a ~200 ms write here (perf); in `ril teach` the rows are
    // the generator's output, not a copy.
    std::vector<std::vector<io::TeacherRow>> batches;
    for (int64_t begin = 0; begin < o.rows; begin += o.rows_per_append) {
      const int64_t end = std::min(o.rows, begin + o.rows_per_append);
      batches.emplace_back(all.begin() + begin, all.begin() + end);
    }
    Stopwatch w;
    {
      io::TeacherCache cache = io::TeacherCache::open_for_dataset(cache_path, dataset);
      io::TeacherInfo info;
      info.name = "bench";
      info.model_path = "none";
      info.model_type = "import";
      info.source = "import";
      info.split_questions = o.rows / 4;
      cache.add_teacher(info);
      for (const std::vector<io::TeacherRow>& batch : batches) cache.append("bench", batch);
      *before_fsync = w.seconds();
    }
    fsync_path(cache_path);
    return w.seconds();
  };
  auto read_all = [&]() {
    Stopwatch w;
    io::TeacherCache cache = io::TeacherCache::open(cache_path);
    const int64_t total = cache.committed("bench");
    if (total != o.rows) throw std::runtime_error("committed " + std::to_string(total) + " != " + std::to_string(o.rows));
    int64_t checked = 0;
    for (int64_t begin = 0; begin < total; begin += o.read_rows) {
      const int64_t n = std::min(o.read_rows, total - begin);
      const std::vector<io::TeacherRow> got = cache.rows("bench", begin, n);
      // Spot-check one row per chunk against what was written.
      if (!(got.front() == all[static_cast<size_t>(begin)])) {
        throw std::runtime_error("row " + std::to_string(begin) + " read back differs");
      }
      checked += static_cast<int64_t>(got.size());
    }
    if (checked != o.rows) throw std::runtime_error("read " + std::to_string(checked) + " rows");
    return w.seconds();
  };
  std::uniform_real_distribution<double> value_dist(-1.0, 1.0);
  nlohmann::json metrics_parts = nlohmann::json::array();  // per round: open, appends + close, fsync
  // `ril train`'s buffering (io::kTrainMetricsBuffering) unless --metrics-buffer-rows says
  // otherwise; 1 is one write per row (two H5Fflush and a write(2) each), as before.
  const io::MetricsBuffering metrics_buffering{
      o.metrics_buffer_rows, o.metrics_buffer_rows > 1 ? io::kTrainMetricsBuffering.seconds : 0.0};
  const std::string metrics_label =
      o.metrics_buffer_rows > 1 ? "metrics write (" + std::to_string(o.metrics_buffer_rows) + "-row buffer + fsync)"
                                : std::string("metrics write (append per row + fsync)");
  auto write_metrics = [&]() {
    fs::remove_all(run_dir);
    std::vector<double> values(static_cast<size_t>(o.metrics_columns));
    // The rows' values are drawn before the clock starts (the generator is not the table's cost).
    std::vector<std::vector<double>> rows_values(static_cast<size_t>(o.metrics_rows), values);
    for (auto& row_values : rows_values) {
      for (double& v : row_values) v = value_dist(rng);
    }
    Stopwatch w;
    double opened = 0, closed = 0;
    {
      io::MetricsTable table = io::MetricsTable::open(run_dir, columns, io::kKeepAllRows, metrics_buffering);
      opened = w.seconds();
      for (int64_t r = 0; r < o.metrics_rows; ++r) table.append(r + 1, rows_values[static_cast<size_t>(r)]);
      table.close();
      closed = w.seconds();
    }
    fsync_path(run_dir + "/" + io::kMetricsH5Name);
    fsync_path(run_dir + "/" + io::kMetricsCsvName);
    const double total = w.seconds();
    metrics_parts.push_back({{"open_s", opened}, {"append_close_s", closed - opened}, {"fsync_s", total - closed}});
    return total;
  };
  auto read_metrics_s = [&]() {
    Stopwatch w;
    const io::MetricsData back = io::read_metrics(run_dir);
    if (back.rows() != o.metrics_rows || back.steps.back() != o.metrics_rows) {
      throw std::runtime_error("metrics read back " + std::to_string(back.rows()) + " rows");
    }
    return w.seconds();
  };

  struct Series {
    std::vector<double> seconds, dd_seconds, ratio;
  };
  Series s_write, s_warm, s_cold, s_metrics, s_metrics_rows;
  std::vector<double> before_fsync_s, metrics_read_s;
  nlohmann::json dd_says = nlohmann::json::array();
  auto mbs = [](double bytes, double sec) { return bytes / sec / 1e6; };
  auto add = [&](Series& series, double bytes, double sec, double dd_bytes_moved, double dd_sec) {
    series.seconds.push_back(sec);
    series.dd_seconds.push_back(dd_sec);
    series.ratio.push_back(mbs(bytes, sec) / mbs(dd_bytes_moved, dd_sec));
  };
  for (int r = 0; r < o.repeats; ++r) {
    double before = 0;
    const double write_s = write_cache(&before);
    before_fsync_s.push_back(before);
    const Shell dd_write =
        shell("dd if=/dev/zero of=" + dd_path + " bs=1M count=" + std::to_string(mib) + " conv=fdatasync");
    add(s_write, static_cast<double>(payload), write_s, dd_bytes, dd_write.seconds);
    const double warm_s = read_all();
    const Shell dd_warm = shell("dd if=" + dd_path + " of=/dev/null bs=1M");
    add(s_warm, static_cast<double>(payload), warm_s, dd_bytes, dd_warm.seconds);
    drop_page_cache(cache_path);
    const double cold_s = read_all();
    shell("dd if=" + dd_path + " iflag=nocache count=0");
    const Shell dd_cold = shell("dd if=" + dd_path + " of=/dev/null bs=1M");
    add(s_cold, static_cast<double>(payload), cold_s, dd_bytes, dd_cold.seconds);
    const double metrics_s = write_metrics();
    metrics_read_s.push_back(read_metrics_s());
    const Shell dd_m_bulk = shell("dd if=/dev/zero of=" + metrics_dd_path + " bs=1M count=" + std::to_string(metrics_mib) +
                                  " conv=fdatasync");
    const Shell dd_m_rows = shell("dd if=/dev/zero of=" + metrics_dd_path + " bs=" + std::to_string(metrics_row_bytes) +
                                  " count=" + std::to_string(o.metrics_rows) + " conv=fdatasync");
    add(s_metrics, metrics_payload, metrics_s, dd_metrics_bulk_bytes, dd_m_bulk.seconds);
    add(s_metrics_rows, metrics_payload, metrics_s, metrics_payload, dd_m_rows.seconds);
    dd_says.push_back({{"write", dd_write.output}, {"read_warm", dd_warm.output}, {"read_cold", dd_cold.output},
                       {"metrics_bulk", dd_m_bulk.output}, {"metrics_per_row", dd_m_rows.output}});
  }
  const int64_t file_bytes = static_cast<int64_t>(fs::file_size(cache_path));
  // What the metrics write puts on disk (the CSV text is larger than the float64 payload).
  const int64_t metrics_h5_bytes = static_cast<int64_t>(fs::file_size(run_dir + "/" + io::kMetricsH5Name));
  const int64_t metrics_csv_bytes = static_cast<int64_t>(fs::file_size(run_dir + "/" + io::kMetricsCsvName));
  std::string text_storage;
  {
    const io::DatasetInfo info = io::H5File::open(cache_path).dataset_info("teachers/bench/response/bytes");
    text_storage = (info.compression > 0 ? "deflate " + std::to_string(info.compression) : std::string("no filter")) +
                   ", " + std::to_string(info.chunk.empty() ? 0 : info.chunk[0] >> 10) + " KiB chunks";
  }

  const std::string fs_type = shell("df -T " + work.string() + " | awk 'NR==2 {print $1\" \"$2}'").output;
  if (!o.keep) fs::remove_all(work);

  Table table({"operation", "MB", "seconds", "MB/s", "dd MB/s", "ratio", "ratio min-max"});
  nlohmann::json results = nlohmann::json::array();
  // One table row and its JSON entries (`op` itself only once: the metrics write has two references).
  auto report = [&](const std::string& label, const std::string& op, const std::string& dd_op, double bytes,
                    double dd_bytes_moved, const Series& series, bool op_entry = true) {
    const double sec = median(series.seconds), dd_sec = median(series.dd_seconds), ratio = median(series.ratio);
    const auto [lo, hi] = std::minmax_element(series.ratio.begin(), series.ratio.end());
    table.add({label, fmt(bytes / 1e6, 2), fmt(sec, 3), fmt(mbs(bytes, sec), bytes < 1e7 ? 2 : 1),
               fmt(mbs(dd_bytes_moved, dd_sec), 1), fmt(ratio, ratio < 0.01 ? 4 : 2),
               fmt(*lo, *lo < 0.01 ? 4 : 2) + "-" + fmt(*hi, *hi < 0.01 ? 4 : 2)});
    if (op_entry) {
      results.push_back({{"op", op}, {"seconds", sec}, {"seconds_all", series.seconds}, {"mb_per_s", mbs(bytes, sec)}});
    }
    results.push_back({{"op", dd_op}, {"seconds", dd_sec}, {"seconds_all", series.dd_seconds},
                       {"mb_per_s", mbs(dd_bytes_moved, dd_sec)}});
    results.push_back({{"op", op + "_vs_" + dd_op}, {"ratio_median", ratio}, {"ratio_all", series.ratio}});
  };
  report("teacher cache write (append + fsync)", "h5_write", "dd_write_fdatasync", static_cast<double>(payload),
         dd_bytes, s_write);
  report("teacher cache read (page cache)", "h5_read_warm", "dd_read_warm", static_cast<double>(payload), dd_bytes,
         s_warm);
  report("teacher cache read (cold)", "h5_read_cold", "dd_read_cold", static_cast<double>(payload), dd_bytes, s_cold);
  report(metrics_label, "metrics_write", "dd_metrics_bulk_fdatasync", metrics_payload,
         dd_metrics_bulk_bytes, s_metrics);
  report("  same, against dd of one write per row", "metrics_write", "dd_metrics_per_row_fdatasync", metrics_payload,
         metrics_payload, s_metrics_rows, /*op_entry=*/false);
  const double m_read = median(metrics_read_s);
  table.add({"metrics read (read_metrics)", fmt(metrics_payload / 1e6, 2), fmt(m_read, 3),
             fmt(mbs(metrics_payload, m_read), 1), "-", "-", "-"});
  results.push_back({{"op", "metrics_read"}, {"seconds", m_read}, {"seconds_all", metrics_read_s},
                     {"mb_per_s", mbs(metrics_payload, m_read)}});
  results.push_back({{"op", "h5_write_before_fsync"}, {"seconds", median(before_fsync_s)}, {"seconds_all", before_fsync_s}});
  results.push_back({{"op", "metrics_write_us_per_row"},
                     {"us", median(s_metrics.seconds) / static_cast<double>(o.metrics_rows) * 1e6}});

  nlohmann::json out = result_header("bench_h5", argc, argv);
  out["settings"] = {{"dir", fs::absolute(o.dir).string()}, {"filesystem", fs_type}, {"rows", o.rows},
                     {"response_bytes_mean", o.response_bytes}, {"rows_per_append", o.rows_per_append},
                     {"read_rows_per_call", o.read_rows}, {"seed", o.seed}, {"metrics_rows", o.metrics_rows},
                     {"metrics_columns", o.metrics_columns}, {"metrics_buffer_rows", metrics_buffering.rows},
                     {"metrics_buffer_seconds", metrics_buffering.seconds}, {"repeats", o.repeats}, {"quick", o.quick}};
  out["payload_bytes"] = payload;
  out["h5_file_bytes"] = file_bytes;
  out["text_storage"] = text_storage;
  out["dd_bytes"] = dd_bytes;
  out["metrics_payload_bytes"] = metrics_payload;
  out["metrics_h5_bytes"] = metrics_h5_bytes;
  out["metrics_write_parts"] = metrics_parts;
  out["metrics_csv_bytes"] = metrics_csv_bytes;
  out["dd_says"] = dd_says;
  out["results"] = results;
  std::cout << "bench_h5: " << o.rows << " rows (" << fmt(payload / 1e6, 1) << " MB payload, HDF5 file "
            << fmt(file_bytes / 1e6, 1) << " MB; text: " << text_storage << ") in " << fs::absolute(o.dir).string()
            << " (" << fs_type << "), " << o.rows_per_append << " rows per append, " << o.read_rows
            << " rows per read; dd moves " << mib << " MiB; metrics: " << o.metrics_rows << " rows x "
            << o.metrics_columns << " columns (files: metrics.h5 " << fmt(metrics_h5_bytes / 1e6, 2) << " MB, metrics.csv "
            << fmt(metrics_csv_bytes / 1e6, 2) << " MB); times include process start for dd and open for HDF5; median of "
            << o.repeats << " paired round(s), ratio = median of the rounds' ratios\n"
            << table.str();
  write_result(o.json, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  H5BenchOptions o;
  po::options_description desc("bench_h5: HDF5 teacher-cache write/read MB/s against dd on the same disk");
  desc.add_options()
      ("help,h", "this help")
      ("dir", po::value(&o.dir)->default_value(o.dir), "directory on the disk to test (a subdirectory is made and removed)")
      ("rows", po::value(&o.rows)->default_value(o.rows), "response rows")
      ("response-bytes", po::value(&o.response_bytes)->default_value(o.response_bytes), "mean response length")
      ("rows-per-append", po::value(&o.rows_per_append)->default_value(o.rows_per_append), "rows per TeacherCache::append")
      ("read-rows", po::value(&o.read_rows)->default_value(o.read_rows), "rows per TeacherCache::rows call")
      ("seed", po::value(&o.seed)->default_value(o.seed), "text seed")
      ("metrics-rows", po::value(&o.metrics_rows)->default_value(o.metrics_rows), "metrics table rows (one append each)")
      ("metrics-columns", po::value(&o.metrics_columns)->default_value(o.metrics_columns), "metrics table columns")
      ("metrics-buffer-rows", po::value(&o.metrics_buffer_rows)->default_value(o.metrics_buffer_rows),
       "metrics rows held before a write (ril train's setting; 1: one write per row, as before)")
      ("repeats", po::value(&o.repeats)->default_value(o.repeats), "paired rounds (each: ours, then dd)")
      ("keep", po::bool_switch(&o.keep), "keep the files")
      ("json", po::value(&o.json)->default_value(o.json), "result file")
      ("quick", po::bool_switch(&o.quick), "CI smoke: 4000 rows");
  try {
    po::variables_map vm;
    if (!parse_options_or_help(argc, argv, desc, vm)) return 0;
    if (o.quick && vm["rows"].defaulted()) o.rows = 4000;
    if (o.quick && vm["metrics-rows"].defaulted()) o.metrics_rows = 500;
    if (o.quick && vm["repeats"].defaulted()) o.repeats = 1;
    if (o.rows < 1 || o.rows_per_append < 1 || o.read_rows < 1 || o.response_bytes < 2 || o.metrics_rows < 1 ||
        o.metrics_columns < 1 || o.metrics_buffer_rows < 1 || o.repeats < 1) {
      throw std::runtime_error("--rows, --rows-per-append, --read-rows, --metrics-rows, --metrics-columns, --repeats "
                               "must be >= 1, "
                               "--response-bytes >= 2");
    }
    return run(o, argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_h5: error: " << e.what() << "\n";
    return 1;
  }
}
