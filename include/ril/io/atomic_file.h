// Atomic replacement of a file: write to a temporary name beside the target, flush, fsync,
// rename over the target, fsync the directory. A writer killed at any point leaves the old file
// untouched, plus, at worst, a stale `<target>.tmp.<pid>`: the next AtomicFile of the same target
// removes those whose PID is no longer running on this host, and a job that holds its run
// directory's lock removes every one in it (remove_stale_temporaries).
#pragma once

#include <string>
#include <vector>

namespace ril::io {

class AtomicFile {
 public:
  explicit AtomicFile(std::string target_path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary file unless commit() ran

  // Where to write (e.g. H5File::create(temp_path(), kind)). Close the writer before commit().
  const std::string& temp_path() const { return temp_path_; }
  const std::string& target_path() const { return target_path_; }
  // fsync(temp) -> rename(temp, target) -> fsync(directory). Throws ril::Error on failure.
  void commit();

 private:
  std::string target_path_;
  std::string temp_path_;
  bool committed_ = false;
};

// fsync of a file or directory by path; throws ril::Error with the path on failure.
void fsync_path(const std::string& path);

struct StaleTemporaryOptions {
  bool recursive = false;  // also in subdirectories (symbolic links are not followed)
  // Every `NAME.tmp.PID` counts as stale, whatever its PID: only for a caller that holds the
  // directory's lock (io/run_dir_lock.h), so that no writer of it can be alive on any host.
  // Otherwise only PIDs not running on this host count (a writer on another host that shares
  // the directory cannot be seen: its PID may not exist here).
  bool any_pid = false;
  std::string only_target;  // when set, only `<only_target>.tmp.PID` files (a file name, no directory)
};

// Removes temporaries `NAME.tmp.PID` (PID all digits) left by killed writers in `directory`.
// Returns the paths removed. Errors other than a vanished file are ignored (best effort).
std::vector<std::string> remove_stale_temporaries(const std::string& directory,
                                                  const StaleTemporaryOptions& options = {});

}  // namespace ril::io
