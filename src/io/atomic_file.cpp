#include "ril/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/process_info.h"

namespace ril::io {

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(cat("cannot open '", path, "' to fsync: ", std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  // Some file systems do not support fsync on directories (EINVAL); data files must sync.
  if (rc != 0 && saved != EINVAL) throw Error(cat("fsync of '", path, "' failed: ", std::strerror(saved)));
}

namespace {
std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The PID of a temporary's name `NAME.tmp.PID`, or -1 for any other name.
int64_t temporary_pid(const std::string& name) {
  const size_t mark = name.rfind(".tmp.");
  if (mark == std::string::npos || mark == 0) return -1;
  const std::string digits = name.substr(mark + 5);
  if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

}  // namespace

std::vector<std::string> remove_stale_temporaries(const std::string& directory, const StaleTemporaryOptions& options) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  std::error_code ec;
  const auto consider = [&](const fs::directory_entry& entry) {
    std::error_code entry_ec;
    if (!entry.is_regular_file(entry_ec) || entry.is_symlink(entry_ec)) return;
    const std::string name = entry.path().filename().string();
    const int64_t pid = temporary_pid(name);
    if (pid < 0) return;
    if (!options.only_target.empty() && name.compare(0, name.rfind(".tmp."), options.only_target) != 0) return;
    // Our own PID: a temporary of an earlier process that had it, unless this process may be
    // writing it right now (only a call for one target knows it is not).
    const bool live = pid == ::getpid() ? options.only_target.empty() : process_alive(pid);
    if (!options.any_pid && live) return;
    if (fs::remove(entry.path(), entry_ec)) removed.push_back(entry.path().string());
  };
  if (options.recursive) {
    for (fs::recursive_directory_iterator it(directory, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      consider(*it);
    }
  } else {
    for (fs::directory_iterator it(directory, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      consider(*it);
    }
  }
  return removed;
}

AtomicFile::AtomicFile(std::string target_path)
    : target_path_(std::move(target_path)),
      temp_path_(cat(target_path_, ".tmp.", ::getpid())) {
  // Temporaries of this target left by killed writers on this host (our own PID's included).
  StaleTemporaryOptions stale;
  stale.only_target = std::filesystem::path(target_path_).filename().string();
  const std::vector<std::string> removed = remove_stale_temporaries(parent_directory(target_path_), stale);
  if (!removed.empty()) log_info("io", "removed ", removed.size(), " temporary file(s) of killed writers: ", removed.front());
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicFile::commit() {
  RIL_CHECK(!committed_, "AtomicFile for '", target_path_, "' committed twice");
  fsync_path(temp_path_);
  if (std::rename(temp_path_.c_str(), target_path_.c_str()) != 0) {
    throw Error(cat("cannot rename '", temp_path_, "' to '", target_path_, "': ", std::strerror(errno)));
  }
  committed_ = true;
  fsync_path(parent_directory(target_path_));
}

}  // namespace ril::io
