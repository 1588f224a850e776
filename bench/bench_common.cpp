#include "bench_common.h"

#include <iostream>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ril::bench {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\n");
  return s.substr(b, e - b + 1);
}

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  }
  return "unknown";
}

double mem_total_gib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  while (in >> key) {
    if (key == "MemTotal:") {
      in >> kib;
      return kib / (1024.0 * 1024.0);
    }
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

std::string run_command(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  if (!pipe) return "";
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe.get()) != nullptr) out += buf;
  return trim(out);
}

// Runs fn(thread_index) on `threads` std::threads and waits for all.
template <typename Fn>
void on_threads(int threads, Fn&& fn) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(fn, t);
  fn(0);
  for (auto& th : pool) th.join();
}

}  // namespace

nlohmann::json machine_info(const at::Device& device) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json m;
  m["hostname"] = host;
  m["cpu_model"] = cpuinfo_field("model name");
  m["cores"] = static_cast<int>(std::thread::hardware_concurrency());
  m["mem_total_gib"] = std::round(mem_total_gib() * 10) / 10;
  m["load_average"] = run_command("cut -d' ' -f1-3 /proc/loadavg");
  if (device.is_cuda()) {
    m["gpu"] = run_command("nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader -i " +
                           std::to_string(device.has_index() ? device.index() : 0) + " 2>/dev/null");
  }
  return m;
}

std::string utc_now_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) out += ' ';
    out += argv[i];
  }
  return out;
}

nlohmann::json result_header(const std::string& bench, int argc, char** argv, const at::Device& device) {
  nlohmann::json j;
  j["bench"] = bench;
  j["machine"] = machine_info(device);
  j["date"] = utc_now_iso();
  j["command"] = command_line(argc, argv);
  j["torch_version"] = TORCH_VERSION;
  j["intra_op_threads"] = at::get_num_threads();
  nlohmann::json env = nlohmann::json::object();
  for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_",
                           "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "LD_PRELOAD"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  j["env"] = env;
  return j;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out.good()) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
}

std::string Table::str() const {
  std::vector<size_t> width(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < width.size(); ++c) {
      out << (c == 0 ? "" : "  ") << std::setw(static_cast<int>(width[c])) << (c < cells.size() ? cells[c] : "");
    }
    out << "\n";
  };
  line(columns_);
  std::vector<std::string> dashes;
  for (size_t w : width) dashes.emplace_back(w, '-');
  line(dashes);
  for (const auto& row : rows_) line(row);
  return out.str();
}

std::string fmt(double value, int decimals) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(decimals) << value;
  return out.str();
}

std::string fmt_int(int64_t value) { return std::to_string(value); }

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;  // kB
  }
  return -1;
}

bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void sync_device(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

at::Device parse_device(const std::string& text) {
  if (text == "cpu") return at::kCPU;
  if (text.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw std::runtime_error("--device " + text + ": this LibTorch build has no usable CUDA device");
    }
    return at::Device(text);
  }
  throw std::runtime_error("--device must be cpu, cuda or cuda:N, got '" + text + "'");
}

at::ScalarType parse_dtype(const std::string& text) {
  if (text == "fp32" || text == "float32") return at::kFloat;
  if (text == "bf16" || text == "bfloat16") return at::kBFloat16;
  throw std::runtime_error("--dtype must be fp32 or bf16, got '" + text + "'");
}

const char* dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "fp32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return "other";
  }
}

std::vector<int64_t> parse_int_list(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    size_t used = 0;
    const long long v = std::stoll(item, &used);
    if (used != item.size() || v <= 0) throw std::runtime_error("expected a list of positive integers, got '" + text + "'");
    out.push_back(v);
  }
  if (out.empty()) throw std::runtime_error("expected a list of positive integers, got '" + text + "'");
  return out;
}

nlohmann::json BandwidthResult::to_json() const {
  return {{"copy_gbs", copy_gbs}, {"triad_gbs", triad_gbs}, {"read_gbs", read_gbs},
          {"buffer_bytes", buffer_bytes}, {"threads", threads}};
}

BandwidthResult measure_host_bandwidth(int64_t buffer_bytes, int threads, int reps) {
  threads = std::max(1, threads);
  const int64_t n = buffer_bytes / static_cast<int64_t>(sizeof(float));
  std::unique_ptr<float[]> a(new float[n]), b(new float[n]), c(new float[n]);
  // First touch on the threads that will use the memory (matters on NUMA machines).
  on_threads(threads, [&](int t) {
    const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
    for (int64_t i = lo; i < hi; ++i) {
      a[i] = 0.f;
      b[i] = 1.f;
      c[i] = 2.f;
    }
  });
  BandwidthResult r;
  r.buffer_bytes = buffer_bytes;
  r.threads = threads;
  std::atomic<double> sink{0};
  for (int rep = 0; rep < reps; ++rep) {
    Stopwatch copy_watch;
    on_threads(threads, [&](int t) {
      const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
      std::memcpy(a.get() + lo, b.get() + lo, static_cast<size_t>(hi - lo) * sizeof(float));
    });
    r.copy_gbs = std::max(r.copy_gbs, 2.0 * buffer_bytes / copy_watch.seconds() / 1e9);

    Stopwatch triad_watch;
    on_threads(threads, [&](int t) {
      const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
      float* __restrict pa = a.get();
      const float* __restrict pb = b.get();
      const float* __restrict pc = c.get();
      for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + 3.0f * pc[i];
    });
    r.triad_gbs = std::max(r.triad_gbs, 3.0 * buffer_bytes / triad_watch.seconds() / 1e9);

    Stopwatch read_watch;
    on_threads(threads, [&](int t) {
      // XOR of 64-bit words: integer, so the compiler vectorises it and the loop is load-bound.
      const int64_t words = buffer_bytes / 8;
      const int64_t lo = words * t / threads, hi = words * (t + 1) / threads;
      const auto* __restrict pw = reinterpret_cast<const uint64_t*>(a.get());
      uint64_t x = 0;
      for (int64_t i = lo; i < hi; ++i) x ^= pw[i];
      double expected = sink.load();
      while (!sink.compare_exchange_weak(expected, expected + static_cast<double>(x & 1))) {
      }
    });
    r.read_gbs = std::max(r.read_gbs, 1.0 * buffer_bytes / read_watch.seconds() / 1e9);
  }
  if (sink.load() == -1.0) std::puts("");  // keeps the reads alive
  return r;
}

BandwidthResult measure_device_bandwidth(const at::Device& device, int64_t buffer_bytes, int reps) {
  BandwidthResult r;
  r.buffer_bytes = buffer_bytes;
  at::Tensor src = at::ones({buffer_bytes}, at::TensorOptions().dtype(at::kByte).device(device));
  at::Tensor dst = at::empty_like(src);
  dst.copy_(src);
  sync_device(device);
  for (int rep = 0; rep < reps; ++rep) {
    Stopwatch w;
    dst.copy_(src);
    sync_device(device);
    r.copy_gbs = std::max(r.copy_gbs, 2.0 * buffer_bytes / w.seconds() / 1e9);
  }
  r.read_gbs = r.triad_gbs = r.copy_gbs;
  return r;
}

double measure_first_touch_us(int64_t bytes, bool huge, int reps) {
  double best = 1e30;
  const size_t n = static_cast<size_t>(bytes);
  for (int rep = 0; rep < reps; ++rep) {
    void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    if (huge) ::madvise(p, n, MADV_HUGEPAGE);
    auto* c = static_cast<volatile char*>(p);
    Stopwatch w;
    for (size_t i = 0; i < n; i += 4096) c[i] = 1;
    best = std::min(best, w.seconds());
    ::munmap(p, n);
  }
  return best / static_cast<double>(n / 4096) * 1e6;
}

nlohmann::json MatmulResult::to_json() const { return {{"n", n}, {"tflops", tflops}, {"dtype", dtype}}; }

MatmulResult measure_matmul(const at::Device& device, at::ScalarType dtype, int64_t n, int reps) {
  auto opts = at::TensorOptions().dtype(dtype).device(device);
  at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts);
  at::Tensor c = at::matmul(a, b);
  sync_device(device);
  double best = 1e30;
  for (int rep = 0; rep < reps; ++rep) {
    Stopwatch w;
    at::matmul_out(c, a, b);
    sync_device(device);
    best = std::min(best, w.seconds());
  }
  MatmulResult r;
  r.n = n;
  r.dtype = dtype_name(dtype);
  r.tflops = 2.0 * static_cast<double>(n) * n * n / best / 1e12;
  return r;
}

void write_result(const std::string& path, const nlohmann::json& j) {
  write_json(path, j);
  std::cout << "wrote " << path << "\n";
}

bool parse_options_or_help(int argc, char** argv, const boost::program_options::options_description& desc,
                           boost::program_options::variables_map& vm, bool print_help) {
  namespace po = boost::program_options;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  if (vm.count("help")) {
    if (print_help) std::cout << desc << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

}  // namespace ril::bench
