// bench_h5: HDF5 teacher-cache write and read MB/s (io::TeacherCache, the format `ril teach`
// writes and the learner reads) against `dd` moving the same number of bytes on the same disk.
//
// Rows: question_id (int64), sample_index (int32), response text (pseudo-English from a seeded
// 1000-word vocabulary, --response-bytes on average), as `ril teach` writes them. Payload bytes =
// response bytes + 12 per row; MB/s figures are payload MB (1e6 bytes) per second.
//   write        TeacherCache::append of --rows-per-append rows at a time (each append: rows,
//                H5Fflush, `committed` attribute, H5Fflush), then fsync of the file; timed from
//                the open to the end of the fsync. Compared with
//                `dd if=/dev/zero of=F bs=1M count=<payload MiB> conv=fdatasync`.
//   read (warm)  TeacherCache::open + rows() in --read-rows chunks, file in the page cache;
//                compared with `dd if=F of=/dev/null bs=1M`.
//   read (cold)  the same after posix_fadvise(DONTNEED) on the file (drops this file's pages
//                only); dd: `dd if=F iflag=nocache count=0` first, then the read.
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>

#include "bench_common.h"
#include "ril/io/h5_file.h"
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

  // ---- write
  Stopwatch write_watch;
  double before_fsync = 0;
  {
    io::TeacherCache cache = io::TeacherCache::open_for_dataset(cache_path, dataset);
    io::TeacherInfo info;
    info.name = "bench";
    info.model_path = "none";
    info.model_type = "import";
    info.source = "import";
    info.split_questions = o.rows / 4;
    cache.add_teacher(info);
    for (int64_t begin = 0; begin < o.rows; begin += o.rows_per_append) {
      const int64_t end = std::min(o.rows, begin + o.rows_per_append);
      cache.append("bench", std::vector<io::TeacherRow>(all.begin() + begin, all.begin() + end));
    }
    before_fsync = write_watch.seconds();
  }
  fsync_path(cache_path);
  const double write_s = write_watch.seconds();
  const int64_t file_bytes = static_cast<int64_t>(fs::file_size(cache_path));

  // ---- read: warm (page cache), then cold (this file's pages dropped)
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
  const double read_warm_s = read_all();
  drop_page_cache(cache_path);
  const double read_cold_s = read_all();

  // ---- dd: same payload bytes (rounded up to whole MiB), same directory
  const int64_t mib = (payload + (1 << 20) - 1) >> 20;
  const double dd_bytes = static_cast<double>(mib) * (1 << 20);
  const Shell dd_write = shell("dd if=/dev/zero of=" + dd_path + " bs=1M count=" + std::to_string(mib) + " conv=fdatasync");
  const Shell dd_read_warm = shell("dd if=" + dd_path + " of=/dev/null bs=1M");
  shell("dd if=" + dd_path + " iflag=nocache count=0");
  const Shell dd_read_cold = shell("dd if=" + dd_path + " of=/dev/null bs=1M");

  const std::string fs_type = shell("df -T " + work.string() + " | awk 'NR==2 {print $1\" \"$2}'").output;
  if (!o.keep) fs::remove_all(work);

  auto mbs = [](double bytes, double s) { return bytes / s / 1e6; };
  Table table({"operation", "MB", "seconds", "MB/s", "dd MB/s", "ratio"});
  table.add({"teacher cache write (append + fsync)", fmt(payload / 1e6, 1), fmt(write_s, 3), fmt(mbs(payload, write_s), 1),
             fmt(mbs(dd_bytes, dd_write.seconds), 1), fmt(mbs(payload, write_s) / mbs(dd_bytes, dd_write.seconds), 2)});
  table.add({"teacher cache read (page cache)", fmt(payload / 1e6, 1), fmt(read_warm_s, 3), fmt(mbs(payload, read_warm_s), 1),
             fmt(mbs(dd_bytes, dd_read_warm.seconds), 1),
             fmt(mbs(payload, read_warm_s) / mbs(dd_bytes, dd_read_warm.seconds), 2)});
  table.add({"teacher cache read (cold)", fmt(payload / 1e6, 1), fmt(read_cold_s, 3), fmt(mbs(payload, read_cold_s), 1),
             fmt(mbs(dd_bytes, dd_read_cold.seconds), 1),
             fmt(mbs(payload, read_cold_s) / mbs(dd_bytes, dd_read_cold.seconds), 2)});

  nlohmann::json out = result_header("bench_h5", argc, argv);
  out["settings"] = {{"dir", fs::absolute(o.dir).string()}, {"filesystem", fs_type}, {"rows", o.rows},
                     {"response_bytes_mean", o.response_bytes}, {"rows_per_append", o.rows_per_append},
                     {"read_rows_per_call", o.read_rows}, {"seed", o.seed}, {"quick", o.quick}};
  out["payload_bytes"] = payload;
  out["h5_file_bytes"] = file_bytes;
  out["dd_bytes"] = dd_bytes;
  out["results"] = {
      {{"op", "h5_write"}, {"seconds", write_s}, {"seconds_before_fsync", before_fsync}, {"mb_per_s", mbs(payload, write_s)}},
      {{"op", "h5_read_warm"}, {"seconds", read_warm_s}, {"mb_per_s", mbs(payload, read_warm_s)}},
      {{"op", "h5_read_cold"}, {"seconds", read_cold_s}, {"mb_per_s", mbs(payload, read_cold_s)}},
      {{"op", "dd_write_fdatasync"}, {"seconds", dd_write.seconds}, {"mb_per_s", mbs(dd_bytes, dd_write.seconds)},
       {"dd_says", dd_write.output}},
      {{"op", "dd_read_warm"}, {"seconds", dd_read_warm.seconds}, {"mb_per_s", mbs(dd_bytes, dd_read_warm.seconds)},
       {"dd_says", dd_read_warm.output}},
      {{"op", "dd_read_cold"}, {"seconds", dd_read_cold.seconds}, {"mb_per_s", mbs(dd_bytes, dd_read_cold.seconds)},
       {"dd_says", dd_read_cold.output}}};
  std::cout << "bench_h5: " << o.rows << " rows (" << fmt(payload / 1e6, 1) << " MB payload, HDF5 file "
            << fmt(file_bytes / 1e6, 1) << " MB: deflate) in " << fs::absolute(o.dir).string() << " (" << fs_type
            << "), " << o.rows_per_append << " rows per append, " << o.read_rows << " rows per read; dd moves "
            << mib << " MiB; times include process start for dd and open for HDF5\n"
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
      ("keep", po::bool_switch(&o.keep), "keep the files")
      ("json", po::value(&o.json)->default_value(o.json), "result file")
      ("quick", po::bool_switch(&o.quick), "CI smoke: 4000 rows");
  try {
    po::variables_map vm;
    if (!parse_options_or_help(argc, argv, desc, vm)) return 0;
    if (o.quick && vm["rows"].defaulted()) o.rows = 4000;
    if (o.rows < 1 || o.rows_per_append < 1 || o.read_rows < 1 || o.response_bytes < 2) {
      throw std::runtime_error("--rows, --rows-per-append, --read-rows must be >= 1, --response-bytes >= 2");
    }
    return run(o, argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_h5: error: " << e.what() << "\n";
    return 1;
  }
}
