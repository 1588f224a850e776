// Checkpoints of a run: `<run_dir>/checkpoints/step-000123.h5` (kind "checkpoint"), optional
// per-rank parts `step-000123.rank-0003.h5` (kind "checkpoint-rank") beside it, and a pointer
// file `checkpoints/latest` holding the file name of the newest committed checkpoint.
//
// Write protocol (a killed writer, at any point, leaves the previous checkpoint usable):
//   1. Every rank r of a job with world size W > 1 calls write_rank(step, r, W, fill): its own
//      state (RNG, data cursor) goes to the rank file, written through AtomicFile (temporary
//      `<name>.tmp.<pid>`, H5 flush + close, fsync, rename, fsync of the directory).
//   2. The caller synchronises the ranks (a barrier: this area knows nothing of MPI).
//   3. One rank (rank 0) calls write(step, fill, W). It first checks that all W rank files of
//      this step exist and open, then writes the main file the same atomic way; the fill
//      callback gets the open file, and the root attribute `complete` = 1 is written after the
//      callback returns, as the last thing before close.
//   4. After the main file is renamed into place, `latest` is replaced atomically (written LAST).
//   5. Only then are older complete checkpoints beyond the newest `keep_last` deleted (main file
//      first, then its rank files). Damaged files are never deleted or overwritten.
//
// A checkpoint is complete when its main file opens as a ril "checkpoint" file of this format
// version, has `complete` = 1 and the `step` of its name, and, for world_size W > 1, all W rank
// files of that step open, have `complete` = 1 and the right step and rank.
//
// find_latest() prefers the checkpoint named by `latest`; if that one is not complete it logs a
// warning naming the file and the reason and falls back to the next-newest complete one. Stale
// temporaries (`*.tmp.<pid>`) are ignored. Which ranks call: write_rank every rank; write,
// prune and (usually) find_latest one rank, which then tells the others (e.g. by broadcast).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ril/io/h5_file.h"

namespace ril::io {

inline constexpr const char* kCheckpointKind = "checkpoint";
inline constexpr const char* kCheckpointRankKind = "checkpoint-rank";

struct CheckpointStoreOptions {
  int keep_last = 3;  // complete checkpoints kept after each write; 0 keeps them all
};

// A complete checkpoint found on disk.
struct CheckpointInfo {
  int64_t step = 0;
  std::string path;                     // main file
  int world_size = 1;                   // ranks that wrote a part; 1 = no rank files
  std::vector<std::string> rank_paths;  // rank r's part at [r]; empty when world_size is 1
};

// Fills an open checkpoint file (groups, tensors, attributes). Throwing aborts the write: the
// temporary file is removed and nothing else changes.
using CheckpointFill = std::function<void(H5File&)>;

class CheckpointStore {
 public:
  explicit CheckpointStore(std::string run_dir, CheckpointStoreOptions options = {});
  // A store over an existing folder of checkpoints (any name); creates nothing. For reading.
  static CheckpointStore in_directory(std::string checkpoint_dir);

  const std::string& directory() const { return directory_; }  // <run_dir>/checkpoints
  std::string main_path(int64_t step) const;                    // .../step-000123.h5
  std::string rank_path(int64_t step, int rank) const;          // .../step-000123.rank-0003.h5
  std::string latest_pointer_path() const;                      // .../latest

  // Step 1 of the protocol: this rank's part. Returns the path written.
  std::string write_rank(int64_t step, int rank, int world_size, const CheckpointFill& fill);
  // Steps 3-5: the main file (after all rank parts when world_size > 1), then `latest`, then
  // pruning. Throws ril::Error, writing nothing, if a rank part is missing or damaged.
  // Returns the path written.
  std::string write(int64_t step, const CheckpointFill& fill, int world_size = 1);

  // The checkpoint to resume from, or nullopt when there is none (warnings for damaged ones).
  std::optional<CheckpointInfo> find_latest() const;
  // Every complete checkpoint, oldest first (no warnings; damaged ones are left out).
  std::vector<CheckpointInfo> list_complete() const;

  // Why the checkpoint of `step` is not complete, or "" when it is (fills `info` then).
  std::string check(int64_t step, CheckpointInfo* info = nullptr) const;

  // Deletes complete checkpoints older than the newest keep_last complete ones. write() calls
  // it; exposed for tests and tools.
  void prune() const;

 private:
  struct NoCreate {};
  CheckpointStore(std::string directory, NoCreate);
  std::vector<int64_t> main_file_steps() const;  // steps with a main file on disk, ascending
  std::string directory_;
  CheckpointStoreOptions options_;
};

// A checkpoint a user names (`--resume PATH`): a main file `step-NNNNNN.h5` in any folder (its
// rank parts beside it), or a folder: a checkpoints folder, or a run directory holding one (then
// its newest complete checkpoint). Creates nothing. Throws ConfigError naming the path and what
// is wrong with it ("does not exist", "not a checkpoint file name", why it is incomplete).
CheckpointInfo locate_checkpoint(const std::string& path);

}  // namespace ril::io
