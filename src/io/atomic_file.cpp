#include "ril/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ril/common/error.h"

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
}  // namespace

AtomicFile::AtomicFile(std::string target_path)
    : target_path_(std::move(target_path)),
      temp_path_(cat(target_path_, ".tmp.", ::getpid())) {
  std::remove(temp_path_.c_str());  // a stale one from a killed writer with our pid
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
