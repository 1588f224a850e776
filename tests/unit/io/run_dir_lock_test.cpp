// RunDirLock: one holder per run directory; a second process is refused with the holder's PID,
// host and start time; stale locks (dead PID, zombie, PID reused, rebooted host, a holder whose
// MPI launcher has ended, earlier attempt of the same Slurm job, another host without heartbeat)
// are taken over with the reason; and the cleanup of temporaries left by killed writers
// (remove_stale_temporaries). process_state: running, zombie, gone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "ril/common/error.h"
#include "ril/common/process_info.h"
#include "ril/io/atomic_file.h"
#include "ril/io/run_dir_lock.h"
#include "support/temp_dir.h"

namespace {

using ril::io::RunDirLock;
using ril::io::RunDirLockHolder;
using ril::io::RunDirLockOptions;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// The lock's mtime set `seconds` into the past.
void age_file(const std::string& path, int seconds) {
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  times[0].tv_sec -= seconds;
  times[1].tv_sec -= seconds;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

std::string lock_error(const std::string& run_dir, RunDirLockOptions options = {}) {
  try {
    RunDirLock lock(run_dir, options);
  } catch (const ril::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// A child process that takes the lock, reports through a pipe, and then either waits for the
// parent to close the pipe (then releases and exits) or dies at once without releasing.
struct LockingChild {
  pid_t pid = -1;
  int to_child = -1;
  LockingChild(const std::string& run_dir, bool die_holding) {
    int up[2], down[2];
    if (::pipe(up) != 0 || ::pipe(down) != 0) throw std::runtime_error("pipe");
    pid = ::fork();
    if (pid == 0) {
      ::close(up[0]);
      ::close(down[1]);
      char ok = '0';
      try {
        RunDirLockOptions o;
        o.command = "ril train (child)";
        auto* lock = new RunDirLock(run_dir, o);  // leaked on purpose when dying holding it
        ok = '1';
        (void)!::write(up[1], &ok, 1);
        if (die_holding) ::_exit(0);  // no destructor: the lock stays behind, its PID dies
        char c;
        (void)!::read(down[0], &c, 1);  // until the parent closes its end
        delete lock;
      } catch (...) {
        (void)!::write(up[1], &ok, 1);
      }
      ::_exit(0);
    }
    ::close(up[1]);
    ::close(down[0]);
    to_child = down[1];
    char ok = '0';
    (void)!::read(up[0], &ok, 1);
    ::close(up[0]);
    if (ok != '1') throw std::runtime_error("the child could not take the lock");
  }
  void finish() {
    if (to_child >= 0) ::close(to_child);
    to_child = -1;
    if (pid > 0) ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~LockingChild() { finish(); }
};

// A child that sleeps until killed (a live process of this host that holds nothing itself).
struct SleepingChild {
  pid_t pid = -1;
  SleepingChild() {
    pid = ::fork();
    if (pid == 0) {
      for (;;) ::pause();
    }
  }
  void end() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    pid = -1;
  }
  ~SleepingChild() { end(); }
};

// A PID that is surely not running: a reaped child's.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// Waits (up to 10 s) until `pid` has exited without being reaped (a zombie; before that it is
// "exiting", which counts as ended as well).
bool wait_until_ended(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    std::string detail;
    if (ril::process_state(pid, &detail) == ril::ProcessState::kEnded && detail.find("zombie") != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

RunDirLockHolder foreign_holder(const std::string& host) {
  RunDirLockHolder h;
  h.pid = 999999;
  h.host = host;
  h.started = "2026-11-30 08:00:00 UTC";
  h.command = "ril train";
  h.token = "theirs";
  return h;
}

}  // namespace

TEST(RunDirLock, TakesReleasesAndRecordsTheHolder) {
  ril::test::TempDir dir;
  const std::string run = dir.path() + "/run";
  {
    RunDirLockOptions o;
    o.command = "ril train";
    RunDirLock lock(run, o);
    EXPECT_EQ(lock.path(), run + "/ril.lock");
    EXPECT_TRUE(lock.takeover().empty());
    const RunDirLockHolder h = RunDirLockHolder::parse(read_file(lock.path()));
    EXPECT_EQ(h.pid, ::getpid());
    EXPECT_EQ(h.host, ril::host_name());
    EXPECT_EQ(h.command, "ril train");
    EXPECT_EQ(h.process_start, ril::process_start_ticks(::getpid()));
    EXPECT_FALSE(h.token.empty());
    // No temporary of the lock's own is left beside it.
    for (const auto& entry : std::filesystem::directory_iterator(run)) EXPECT_EQ(entry.path().filename(), "ril.lock");
    // A second holder in the same (live) process is refused too.
    const std::string e = lock_error(run);
    EXPECT_NE(e.find("run dir " + run + " in use by PID " + std::to_string(::getpid()) + " on " + ril::host_name() +
                     " since " + h.started + " (ril train)"),
              std::string::npos)
        << e;
  }
  EXPECT_FALSE(std::filesystem::exists(run + "/ril.lock"));
  RunDirLock again(run);  // free again
}

TEST(RunDirLock, ARunDirItCreatedGoesWithItWhenLeftEmpty) {
  ril::test::TempDir dir;
  const std::string fresh = dir.path() + "/fresh", used = dir.path() + "/used", old = dir.path() + "/old";
  { RunDirLock lock(fresh); }
  EXPECT_FALSE(std::filesystem::exists(fresh));  // a refused job leaves nothing
  {
    RunDirLock lock(used);
    write_file(used + "/metrics.h5", "x");
  }
  EXPECT_TRUE(std::filesystem::exists(used + "/metrics.h5"));
  std::filesystem::create_directories(old);
  { RunDirLock lock(old); }
  EXPECT_TRUE(std::filesystem::is_directory(old));  // not ours to remove
}

TEST(RunDirLock, SecondProcessIsRefusedUntilTheFirstEnds) {
  ril::test::TempDir dir;
  LockingChild child(dir.path(), /*die_holding=*/false);
  const std::string e = lock_error(dir.path());
  EXPECT_NE(e.find("in use by PID " + std::to_string(child.pid) + " on " + ril::host_name() + " since "),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("(ril train (child))"), std::string::npos) << e;
  child.finish();
  RunDirLock lock(dir.path());
  EXPECT_TRUE(lock.takeover().empty());  // released cleanly, nothing to take over
}

TEST(RunDirLock, LockOfADeadProcessIsTakenOverWithAWarning) {
  ril::test::TempDir dir;
  pid_t dead = -1;
  {
    LockingChild child(dir.path(), /*die_holding=*/true);
    dead = child.pid;
  }  // reaped: the PID is gone, its lock is still there
  ASSERT_TRUE(std::filesystem::exists(RunDirLock::lock_path(dir.path())));
  RunDirLock lock(dir.path());
  EXPECT_NE(lock.takeover().find("took over the lock of PID " + std::to_string(dead)), std::string::npos)
      << lock.takeover();
  EXPECT_NE(lock.takeover().find("process " + std::to_string(dead) + " is not running"), std::string::npos)
      << lock.takeover();
  EXPECT_EQ(RunDirLockHolder::parse(read_file(lock.path())).pid, ::getpid());
}

TEST(ProcessState, RunningZombieAndGone) {
  std::string detail;
  EXPECT_EQ(ril::process_state(::getpid(), &detail), ril::ProcessState::kRunning);
  EXPECT_TRUE(ril::process_alive(::getpid()));
  EXPECT_EQ(ril::process_state(dead_pid()), ril::ProcessState::kGone);
  EXPECT_EQ(ril::process_state(0), ril::ProcessState::kGone);
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_TRUE(wait_until_ended(child));  // exited, not reaped: a zombie
  EXPECT_EQ(ril::process_state(child, &detail), ril::ProcessState::kEnded);
  EXPECT_NE(detail.find("zombie"), std::string::npos) << detail;
  EXPECT_FALSE(ril::process_alive(child));  // kill(pid, 0) alone would say it is
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(ril::process_state(child), ril::ProcessState::kGone);
}

TEST(RunDirLock, LockOfAZombieHolderIsTakenOver) {
  // The holder died without releasing and nobody has reaped it (a PID 1 that does not reap
  // orphans keeps such a zombie forever; kill(pid, 0) still succeeds on it).
  ril::test::TempDir dir;
  LockingChild child(dir.path(), /*die_holding=*/true);
  ASSERT_TRUE(wait_until_ended(child.pid));
  RunDirLockOptions o;
  o.live_wait = std::chrono::milliseconds(0);
  RunDirLock lock(dir.path(), o);
  EXPECT_NE(lock.takeover().find("took over the lock of PID " + std::to_string(child.pid)), std::string::npos)
      << lock.takeover();
  EXPECT_NE(lock.takeover().find("process " + std::to_string(child.pid) + " is not running (a zombie"),
            std::string::npos)
      << lock.takeover();
}

TEST(RunDirLock, HolderWhoseLauncherEndedIsWaitedForThenTakenOver) {
  ril::test::TempDir dir;
  const std::string path = RunDirLock::lock_path(dir.path());
  // The holder still runs, but the launcher (mpirun) that started it has exited: its job is over.
  SleepingChild holder;
  RunDirLockHolder record = foreign_holder(ril::host_name());
  record.pid = holder.pid;
  record.process_start = ril::process_start_ticks(holder.pid);
  record.launcher_pid = dead_pid();
  record.launcher_start = 1;
  record.launcher = "mpirun";
  write_file(path, record.text());
  RunDirLockOptions o;
  o.exit_wait = std::chrono::milliseconds(300);
  {
    const auto start = std::chrono::steady_clock::now();
    RunDirLock lock(dir.path(), o);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
    EXPECT_NE(lock.takeover().find("its job has ended: its launcher mpirun (PID " + std::to_string(record.launcher_pid) +
                                   ") has exited; process " + std::to_string(holder.pid) + " was still there after 0.3 s"),
              std::string::npos)
        << lock.takeover();
  }
  // Such a holder usually ends while the new job waits: then the lock is taken over at once.
  write_file(path, record.text());
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    holder.end();
  });
  o.exit_wait = std::chrono::seconds(30);
  const auto start = std::chrono::steady_clock::now();
  RunDirLock lock(dir.path(), o);
  killer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_NE(lock.takeover().find(" is not running"), std::string::npos) << lock.takeover();
}

TEST(RunDirLock, LiveHolderWithALiveLauncherIsRefusedAfterTheWait) {
  ril::test::TempDir dir;
  const std::string path = RunDirLock::lock_path(dir.path());
  SleepingChild holder;
  RunDirLockHolder record = foreign_holder(ril::host_name());
  record.pid = holder.pid;
  record.process_start = ril::process_start_ticks(holder.pid);
  record.launcher_pid = ::getpid();  // the launcher still runs
  record.launcher_start = ril::process_start_ticks(::getpid());
  record.launcher = "mpirun";
  write_file(path, record.text());
  const std::string before = read_file(path);
  RunDirLockOptions o;
  o.live_wait = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  const std::string e = lock_error(dir.path(), o);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_NE(e.find("run dir " + dir.path() + " in use by PID " + std::to_string(holder.pid) + " on " + ril::host_name()),
            std::string::npos)
      << e;
  EXPECT_EQ(read_file(path), before);  // refused: the lock is untouched
  // Its launcher's PID reused by another process: the job is over as well.
  RunDirLockHolder reused = record;
  reused.launcher_start = record.launcher_start + 12345;
  write_file(path, reused.text());
  o.exit_wait = std::chrono::milliseconds(0);
  RunDirLock lock(dir.path(), o);
  EXPECT_NE(lock.takeover().find("its job has ended"), std::string::npos) << lock.takeover();
}

TEST(RunDirLock, RecordsAnMpiLauncherOnly) {
  // Under the test runner the parent is not an MPI launcher: no launcher is recorded (a holder
  // started from a shell must not look finished when the shell ends).
  ril::test::TempDir dir;
  RunDirLock lock(dir.path());
  const RunDirLockHolder h = RunDirLockHolder::parse(read_file(lock.path()));
  const std::string parent = ril::process_name(::getppid());
  if (parent == "mpirun" || parent == "orterun" || parent == "mpiexec" || parent == "prterun") {
    EXPECT_EQ(h.launcher_pid, ::getppid());
    EXPECT_EQ(h.launcher, parent);
  } else {
    EXPECT_EQ(h.launcher_pid, 0) << parent;
  }
  RunDirLockHolder round = h;
  round.launcher_pid = 77;
  round.launcher_start = 88;
  round.launcher = "mpirun";
  const RunDirLockHolder back = RunDirLockHolder::parse(round.text());
  EXPECT_EQ(back.launcher_pid, 77);
  EXPECT_EQ(back.launcher_start, 88);
  EXPECT_EQ(back.launcher, "mpirun");
}

TEST(RunDirLock, ReusedPidAndRebootedHostAreStale) {
  ril::test::TempDir dir;
  const std::string path = RunDirLock::lock_path(dir.path());
  RunDirLockHolder reused = foreign_holder(ril::host_name());
  reused.pid = ::getppid();  // alive, but started at another time than recorded
  reused.process_start = ril::process_start_ticks(reused.pid) + 12345;
  write_file(path, reused.text());
  {
    RunDirLock lock(dir.path());
    EXPECT_NE(lock.takeover().find("now belongs to another process"), std::string::npos) << lock.takeover();
  }
  RunDirLockHolder rebooted = foreign_holder(ril::host_name());
  rebooted.pid = ::getppid();
  rebooted.boot_id = "an-earlier-boot";
  write_file(path, rebooted.text());
  if (!ril::boot_id().empty()) {
    RunDirLock lock(dir.path());
    EXPECT_NE(lock.takeover().find("the host has rebooted since"), std::string::npos) << lock.takeover();
  }
}

TEST(RunDirLock, AnotherHostIsHonouredUntilItsHeartbeatStops) {
  ril::test::TempDir dir;
  const std::string path = RunDirLock::lock_path(dir.path());
  write_file(path, foreign_holder("node-elsewhere").text());
  const std::string before = read_file(path);
  const std::string e = lock_error(dir.path());
  EXPECT_NE(e.find("in use by PID 999999 on node-elsewhere since 2026-11-30 08:00:00 UTC (ril train)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("its last heartbeat was 0 s ago"), std::string::npos) << e;
  EXPECT_EQ(read_file(path), before);  // refused: the lock is untouched
  age_file(path, 3600);
  RunDirLock lock(dir.path());
  EXPECT_NE(lock.takeover().find("no heartbeat for 3600 s"), std::string::npos) << lock.takeover();
}

TEST(RunDirLock, EarlierAttemptOfTheSameSlurmJobIsStaleAndForceTakesAnyLock) {
  ril::test::TempDir dir;
  const std::string path = RunDirLock::lock_path(dir.path());
  RunDirLockHolder earlier = foreign_holder("node-a");
  earlier.slurm_job = "4711";
  earlier.slurm_restart = 0;
  write_file(path, earlier.text());
  ::setenv("SLURM_JOB_ID", "4711", 1);
  ::setenv("SLURM_RESTART_COUNT", "0", 1);
  EXPECT_NE(lock_error(dir.path()).find("Slurm job 4711"), std::string::npos);  // same attempt: honoured
  ::setenv("SLURM_RESTART_COUNT", "1", 1);
  {
    RunDirLock lock(dir.path());
    EXPECT_NE(lock.takeover().find("it was restart 0 of this Slurm job 4711"), std::string::npos) << lock.takeover();
    EXPECT_EQ(lock.holder().slurm_restart, 1);
  }
  ::unsetenv("SLURM_JOB_ID");
  ::unsetenv("SLURM_RESTART_COUNT");

  write_file(path, foreign_holder("node-b").text());
  RunDirLockOptions force;
  force.force = true;
  RunDirLock lock(dir.path(), force);
  EXPECT_NE(lock.takeover().find("by force"), std::string::npos) << lock.takeover();
}

TEST(RunDirLock, GarbageLockIsTakenOverAndASuccessorsLockIsNotRemoved) {
  ril::test::TempDir dir;
  const std::string path = RunDirLock::lock_path(dir.path());
  write_file(path, "\x01\x02 not a lock\n");
  {
    RunDirLock lock(dir.path());
    EXPECT_NE(lock.takeover().find("took over the lock file: it holds no ril lock record"), std::string::npos) << lock.takeover();
    // Someone took it over from us (we looked dead to them): our release must leave theirs.
    write_file(path, foreign_holder("node-c").text());
  }
  EXPECT_EQ(RunDirLockHolder::parse(read_file(path)).host, "node-c");
}

TEST(RunDirLock, HeartbeatRefreshesTheLock) {
  ril::test::TempDir dir;
  RunDirLockOptions o;
  o.heartbeat = std::chrono::seconds(1);
  RunDirLock lock(dir.path(), o);
  age_file(lock.path(), 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  struct stat st {};
  ASSERT_EQ(::stat(lock.path().c_str(), &st), 0);
  EXPECT_LT(std::time(nullptr) - st.st_mtime, 100);
}

TEST(StaleTemporaries, DeadWritersTemporariesAreRemoved) {
  ril::test::TempDir dir;
  namespace fs = std::filesystem;
  // A PID that surely is not running: a reaped child's.
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string d = dir.path();
  fs::create_directories(d + "/checkpoints");
  const std::string stale = d + "/metrics.h5.tmp." + std::to_string(dead);
  const std::string live = d + "/data.h5.tmp." + std::to_string(::getppid());  // a running process
  const std::string nested = d + "/checkpoints/step-000003.h5.tmp." + std::to_string(dead);
  const std::string other = d + "/notes.tmp.txt";
  for (const std::string& p : {stale, live, nested, other}) write_file(p, "x");

  EXPECT_EQ(ril::io::remove_stale_temporaries(d), std::vector<std::string>{stale});
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(nested));
  ril::io::StaleTemporaryOptions all;
  all.recursive = true;
  all.any_pid = true;  // as under the run dir's lock
  EXPECT_EQ(ril::io::remove_stale_temporaries(d, all).size(), 2u);
  EXPECT_FALSE(fs::exists(live));
  EXPECT_FALSE(fs::exists(nested));
  EXPECT_TRUE(fs::exists(other));
}

TEST(StaleTemporaries, AtomicFileRemovesItsTargetsDeadTemporaries) {
  ril::test::TempDir dir;
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string target = dir.path() + "/file.h5";
  const std::string stale = target + ".tmp." + std::to_string(dead);
  const std::string other_target = dir.path() + "/other.h5.tmp." + std::to_string(dead);
  write_file(stale, "half written");
  write_file(other_target, "half written");
  {
    ril::io::AtomicFile atomic(target);
    write_file(atomic.temp_path(), "new");
    atomic.commit();
  }
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(other_target));  // another target's: left to its own writer
  EXPECT_EQ(read_file(target), "new");
}
