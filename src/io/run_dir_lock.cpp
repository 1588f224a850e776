#include "ril/io/run_dir_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/paths.h"
#include "ril/common/process_info.h"

namespace ril::io {
namespace {

constexpr int kMaxAttempts = 8;  // create / judge / take over rounds before giving up (contention)

std::string utc_now_text() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

std::string random_token() {
  std::random_device device;
  std::ostringstream out;
  out << std::hex << device() << device() << ::getpid();
  return out.str();
}

std::string one_line(std::string value) {
  for (char& c : value) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return value;
}

// The whole file, or nullopt-like false when it cannot be read (errno kept).
bool read_text_file(const std::string& path, std::string* text, struct stat* st) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  text->clear();
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0 && text->size() < 65536) text->append(buffer, static_cast<size_t>(n));
  const bool ok = n >= 0 && ::fstat(fd, st) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

void write_text_file(const std::string& path, const std::string& text, int flags) {
  const int fd = ::open(path.c_str(), flags | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(cat("cannot create '", path, "': ", std::strerror(errno)));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      throw Error(cat("cannot write '", path, "': ", std::strerror(saved)));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0 || errno == EINVAL;
  ::close(fd);
  if (!synced) throw Error(cat("fsync of '", path, "' failed: ", std::strerror(errno)));
}

// link(temp, lock): true when this call created the lock.
bool create_lock(const std::string& temp, const std::string& lock, const std::string& text) {
  if (::link(temp.c_str(), lock.c_str()) == 0) return true;
  const int err = errno;
  struct stat st {};
  // NFS: the reply of a link() that succeeded can be lost and the retry fail with EEXIST.
  if (::stat(temp.c_str(), &st) == 0 && st.st_nlink == 2) return true;
  if (err == EEXIST) return false;
  if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS || err == EMLINK) {
    // No hard links here: exclusive create (atomic on local file systems, NFSv3+ and Lustre).
    const int fd = ::open(lock.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) return false;
    if (fd < 0) throw Error(cat("cannot create lock file '", lock, "': ", std::strerror(errno)));
    ::close(fd);
    write_text_file(lock, text, O_TRUNC);
    return true;
  }
  throw Error(cat("cannot create lock file '", lock, "': ", std::strerror(err)));
}

// Parents that mean "started by an MPI launcher" (comm names, at most 15 characters). A holder
// started by anything else (a shell, nohup, a wrapper script) records no launcher: its parent may
// end while it runs on.
bool is_mpi_launcher(const std::string& name) {
  static const char* const kLaunchers[] = {"mpirun",  "mpiexec", "orterun", "orted",           "prterun",
                                           "prted",   "prte",    "mpiexec.hydra", "hydra_pmi_proxy", "slurmstepd"};
  for (const char* launcher : kLaunchers) {
    if (name == launcher) return true;
  }
  return false;
}

// How the holder of a lock looks from here.
struct Judgement {
  std::string stale;           // why the lock may be taken over; "" when its holder may be alive
  bool local_running = false;  // the holder runs on this host (worth watching for a while)
  std::string job_ended;       // why its job is over although the holder still runs, else ""
};

// Judges the lock of `old` (a file of age `age_s` by the file server's clock) for `me`.
Judgement judge(const RunDirLockHolder& old, const RunDirLockHolder& me, double age_s, const RunDirLockOptions& options) {
  Judgement j;
  if (options.force) {
    j.stale = "taking it over by force";
    return j;
  }
  if (old.pid <= 0 || old.host.empty()) {
    j.stale = "it holds no ril lock record";
    return j;
  }
  if (!old.slurm_job.empty() && old.slurm_job == me.slurm_job && me.slurm_restart > old.slurm_restart) {
    j.stale = cat("it was restart ", old.slurm_restart, " of this Slurm job ", me.slurm_job, ", which Slurm has ended");
    return j;
  }
  if (old.host == me.host) {
    if (!old.boot_id.empty() && !me.boot_id.empty() && old.boot_id != me.boot_id) {
      j.stale = "the host has rebooted since";
      return j;
    }
    std::string detail;
    const ProcessState state = process_state(old.pid, &detail);
    if (state == ProcessState::kGone) {
      j.stale = cat("process ", old.pid, " is not running");
      return j;
    }
    const int64_t start = old.process_start >= 0 ? process_start_ticks(old.pid) : -1;
    if (start >= 0 && start != old.process_start) {
      j.stale = cat("PID ", old.pid, " now belongs to another process");
      return j;
    }
    if (state == ProcessState::kEnded) {
      j.stale = cat("process ", old.pid, " is not running (", detail, ")");
      return j;
    }
    j.local_running = old.pid != me.pid;
    if (old.launcher_pid > 0) {
      const int64_t launcher_start = old.launcher_start >= 0 ? process_start_ticks(old.launcher_pid) : -1;
      if (!process_alive(old.launcher_pid) || (launcher_start >= 0 && launcher_start != old.launcher_start)) {
        j.job_ended = cat("its job has ended: its launcher ", printable(old.launcher.empty() ? "?" : old.launcher),
                          " (PID ", old.launcher_pid, ") has exited");
      }
    }
    return j;
  }
  const double stale = static_cast<double>(options.stale_after.count());
  if (age_s > stale) {
    j.stale = cat("no heartbeat for ", static_cast<int64_t>(age_s), " s (a lock from another host is stale after ",
                  options.stale_after.count(), " s)");
  }
  return j;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream out;
  out << static_cast<double>(ms.count()) / 1000.0;
  return out.str();
}

double seconds_between(const struct timespec& newer, const struct timespec& older) {
  return static_cast<double>(newer.tv_sec - older.tv_sec) + 1e-9 * static_cast<double>(newer.tv_nsec - older.tv_nsec);
}

}  // namespace

// Refreshes the lock's mtime every `interval` until destroyed (the liveness sign that other
// hosts read).
class RunDirLock::Heartbeat {
 public:
  Heartbeat(std::string path, std::chrono::seconds interval) : path_(std::move(path)), interval_(interval) {
    thread_ = std::thread([this] { run(); });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
      ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);  // now, by the file server's clock
    }
  }
  std::string path_;
  std::chrono::seconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

std::string RunDirLockHolder::text() const {
  return cat("pid=", pid, "\nhost=", one_line(host), "\nstarted=", one_line(started), "\nboot_id=", one_line(boot_id),
             "\nprocess_start=", process_start, "\nlauncher_pid=", launcher_pid, "\nlauncher_start=", launcher_start,
             "\nlauncher=", one_line(launcher), "\nslurm_job=", one_line(slurm_job), "\nslurm_restart=", slurm_restart,
             "\ncommand=", one_line(command), "\ntoken=", one_line(token), "\n");
}

RunDirLockHolder RunDirLockHolder::parse(const std::string& text) {
  RunDirLockHolder h;
  std::istringstream lines(text);
  std::string line;
  const auto number = [](const std::string& value, int64_t fallback) {
    try {
      size_t used = 0;
      const int64_t n = std::stoll(value, &used);
      return used == value.size() ? n : fallback;
    } catch (const std::exception&) {
      return fallback;
    }
  };
  while (std::getline(lines, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "pid") h.pid = number(value, 0);
    if (key == "host") h.host = value;
    if (key == "started") h.started = value;
    if (key == "boot_id") h.boot_id = value;
    if (key == "process_start") h.process_start = number(value, -1);
    if (key == "launcher_pid") h.launcher_pid = number(value, 0);
    if (key == "launcher_start") h.launcher_start = number(value, -1);
    if (key == "launcher") h.launcher = value;
    if (key == "slurm_job") h.slurm_job = value;
    if (key == "slurm_restart") h.slurm_restart = number(value, 0);
    if (key == "command") h.command = value;
    if (key == "token") h.token = value;
  }
  return h;
}

std::string RunDirLockHolder::describe() const {
  std::string text = cat("PID ", pid, " on ", printable(host), " since ", printable(started.empty() ? "?" : started));
  std::string what = printable(command);
  if (!slurm_job.empty()) what += cat(what.empty() ? "" : ", ", "Slurm job ", printable(slurm_job));
  if (!what.empty()) text += cat(" (", what, ")");
  return text;
}

std::string RunDirLock::lock_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "ril.lock").string();
}

RunDirLock::RunDirLock(const std::string& run_dir, RunDirLockOptions options) : path_(lock_path(run_dir)) {
  std::error_code ec;
  if (!path_exists(run_dir)) created_dir_ = run_dir;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) throw Error(cat("cannot create run dir '", run_dir, "': ", ec.message()));
  holder_.pid = ::getpid();
  holder_.host = host_name();
  holder_.started = utc_now_text();
  holder_.boot_id = boot_id();
  holder_.process_start = process_start_ticks(holder_.pid);
  const int64_t parent = ::getppid();
  if (is_mpi_launcher(process_name(parent))) {
    holder_.launcher_pid = parent;
    holder_.launcher_start = process_start_ticks(parent);
    holder_.launcher = process_name(parent);
  }
  if (const char* job = std::getenv("SLURM_JOB_ID")) holder_.slurm_job = job;
  if (const char* restart = std::getenv("SLURM_RESTART_COUNT")) holder_.slurm_restart = std::atoll(restart);
  holder_.command = options.command;
  holder_.token = random_token();
  const std::string text = holder_.text();

  // The record goes to a temporary first, so the lock never exists half-written.
  const std::string temp = cat(path_, ".tmp.", holder_.pid);
  write_text_file(temp, text, O_CREAT | O_TRUNC);
  struct Remove {
    const std::string& path;
    ~Remove() { ::unlink(path.c_str()); }
  } remove_temp{temp};

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (create_lock(temp, path_, text)) {
      heartbeat_ = std::make_unique<Heartbeat>(path_, options.heartbeat);
      return;
    }
    std::string old_text;
    struct stat old_stat {};
    if (!read_text_file(path_, &old_text, &old_stat)) {
      if (errno == ENOENT) continue;  // released meanwhile: try again
      throw Error(cat("cannot read lock file '", path_, "': ", std::strerror(errno)));
    }
    // "Now" by the same clock that stamped the lock's mtime: touch our temporary and read it back.
    struct stat now_stat {};
    ::utimensat(AT_FDCWD, temp.c_str(), nullptr, 0);
    ::stat(temp.c_str(), &now_stat);
    const double age_s = seconds_between(now_stat.st_mtim, old_stat.st_mtim);
    const RunDirLockHolder old = RunDirLockHolder::parse(old_text);
    Judgement j = judge(old, holder_, age_s, options);
    if (j.stale.empty() && j.local_running) {
      // A holder on this host may be on its way out (a job torn down after a rank was killed):
      // watch it for a while, longer once its launcher has ended.
      const auto wait_for = [&] { return j.job_ended.empty() ? options.live_wait : options.exit_wait; };
      if (wait_for().count() > 0) {
        log_info("io", "run dir ", run_dir, ": the lock is held by ", old.describe(),
                 j.job_ended.empty() ? std::string() : cat(" (", j.job_ended, ")"), "; waiting up to ",
                 seconds_text(wait_for()), " s for it to end");
      }
      const auto start = std::chrono::steady_clock::now();
      bool changed = false;
      while (std::chrono::steady_clock::now() - start < wait_for()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::string now_text;
        struct stat ignored {};
        if (!read_text_file(path_, &now_text, &ignored) || now_text != old_text) {
          changed = true;  // released or replaced meanwhile: judge afresh
          break;
        }
        const std::string job_ended = j.job_ended;
        j = judge(old, holder_, age_s, options);
        if (j.job_ended.empty()) j.job_ended = job_ended;  // a launcher gone stays gone
        if (!j.stale.empty() || !j.local_running) break;
      }
      if (changed) continue;
      if (j.stale.empty() && !j.job_ended.empty()) {
        j.stale = cat(j.job_ended, "; process ", old.pid, " was still there after ", seconds_text(wait_for()),
                      " s (left to end by itself)");
      }
    }
    const std::string& reason = j.stale;
    if (reason.empty()) {
      std::string message = cat("run dir ", run_dir, " in use by ", old.describe(), "; lock file ", path_,
                                ". Wait for that job to end or use another --run-dir");
      if (old.host != holder_.host) {
        message += cat(" (its last heartbeat was ", static_cast<int64_t>(std::max(0.0, age_s)),
                       " s ago; a lock from another host without a heartbeat for ", options.stale_after.count(),
                       " s is taken over)");
      }
      throw ConfigError(message);
    }
    // Take over: move the stale lock aside (atomic), and check that what moved is what was
    // judged; a successor's fresh lock that slipped in between goes back.
    const std::string aside = cat(path_, ".stale.", holder_.pid);
    if (::rename(path_.c_str(), aside.c_str()) != 0) continue;
    std::string moved_text;
    struct stat moved_stat {};
    const bool same = read_text_file(aside, &moved_text, &moved_stat) && moved_text == old_text;
    if (!same) {
      if (::link(aside.c_str(), path_.c_str()) != 0) { /* a third process holds it now: judged next round */ }
      ::unlink(aside.c_str());
      continue;
    }
    ::unlink(aside.c_str());
    const bool record = old.pid > 0 && !old.host.empty();
    takeover_ = cat("took over the lock ", record ? "of " + old.describe() : std::string("file"), ": ", reason);
    log_warn("io", "run dir ", run_dir, ": ", takeover_);
  }
  throw Error(cat("cannot take the lock ", path_, " after ", kMaxAttempts,
                  " attempts: other processes keep creating it; start one job per run dir"));
}

RunDirLock::~RunDirLock() {
  heartbeat_.reset();
  std::string text;
  struct stat st {};
  if (read_text_file(path_, &text, &st) && RunDirLockHolder::parse(text).token == holder_.token) {
    ::unlink(path_.c_str());
  }
  // A job refused before it wrote anything leaves no empty run dir behind (rmdir fails otherwise).
  if (!created_dir_.empty()) ::rmdir(created_dir_.c_str());
}

}  // namespace ril::io
