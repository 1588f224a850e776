// Atomic replacement of a file: write to a temporary name beside the target, flush, fsync,
// rename over the target, fsync the directory. A writer killed at any point leaves the old file
// untouched (plus, at worst, a stale `<target>.tmp.<pid>` that the next writer ignores).
#pragma once

#include <string>

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

}  // namespace ril::io
