#include "ril/io/checkpoint_store.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/io/atomic_file.h"

namespace ril::io {
namespace fs = std::filesystem;
namespace {

constexpr const char* kTag = "ckpt";
constexpr const char* kPrefix = "step-";
constexpr const char* kMainSuffix = ".h5";

std::string step_name(int64_t step) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "step-%06lld", static_cast<long long>(step));
  return buffer;
}

// "step-000123.h5" -> 123; anything else (rank parts, temporaries, other spellings) -> nullopt.
std::optional<int64_t> parse_main_name(const std::string& name) {
  const std::string prefix = kPrefix, suffix = kMainSuffix;
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  const int64_t step = std::stoll(digits);
  if (step_name(step) + suffix != name) return std::nullopt;  // only the spelling write() uses
  return step;
}

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

// Why the file at `path` is not a complete checkpoint part of `kind`, or "" when it is.
// `rank` < 0: the main file (no rank attribute to check).
std::string check_file(const std::string& path, const char* kind, int64_t step, int rank, int* world_size) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "the file does not exist";
  try {
    const H5File file = H5File::open(path, kind);
    if (!file.has_attr("/", "complete")) {
      return "it has no 'complete' attribute: the writer stopped before finishing it";
    }
    if (file.attr_int("/", "complete") != 1) return "its 'complete' attribute is not 1";
    if (!file.has_attr("/", "step") || file.attr_int("/", "step") != step) {
      return cat("its 'step' attribute is not ", step);
    }
    if (rank >= 0 && (!file.has_attr("/", "rank") || file.attr_int("/", "rank") != rank)) {
      return cat("its 'rank' attribute is not ", rank);
    }
    if (world_size) {
      if (!file.has_attr("/", "world_size")) return "it has no 'world_size' attribute";
      const int64_t w = file.attr_int("/", "world_size");
      if (w < 1 || w > (1 << 24)) return cat("its 'world_size' attribute is ", w);
      *world_size = static_cast<int>(w);
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A file about to be replaced that exists but is not complete is moved aside, bytes intact:
// damaged checkpoints are never overwritten.
void set_aside_if_damaged(const std::string& path, const char* kind, int64_t step, int rank) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  const std::string reason = check_file(path, kind, step, rank, nullptr);
  if (reason.empty()) return;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string aside = cat(path, ".damaged.", now);
  fs::rename(path, aside, ec);
  if (ec) {
    throw Error(cat("checkpoint file '", path, "' is damaged (", reason, ") and cannot be moved aside to '", aside,
                    "' (", ec.message(), "); move or delete it, then rerun"));
  }
  log_warn(kTag, "checkpoint file '", path, "' is damaged (", reason, "); moved it to '", aside,
           "' unchanged, so that the new one does not overwrite it. Inspect or delete it yourself");
}

// Writes one checkpoint file through AtomicFile: attributes, the caller's content, then
// `complete` as the last thing before close, then fsync + rename + fsync of the directory.
void write_atomically(const std::string& path, const char* kind, int64_t step, int rank, int world_size,
                      const CheckpointFill& fill) {
  AtomicFile atomic(path);  // declared first: destroyed (temp removed) after the file is closed
  {
    H5File file = H5File::create(atomic.temp_path(), kind);
    file.set_attr("/", "step", step);
    file.set_attr("/", "world_size", static_cast<int64_t>(world_size));
    if (rank >= 0) file.set_attr("/", "rank", static_cast<int64_t>(rank));
    if (fill) fill(file);
    file.set_attr("/", "complete", static_cast<int64_t>(1));
    file.flush();
    file.close();
  }
  atomic.commit();
}

}  // namespace

CheckpointStore::CheckpointStore(std::string run_dir, CheckpointStoreOptions options)
    : directory_((fs::path(std::move(run_dir)) / "checkpoints").string()), options_(options) {
  RIL_CHECK(options_.keep_last >= 0, "keep_last must be >= 0, got ", options_.keep_last);
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec) throw Error(cat("cannot create checkpoint directory '", directory_, "': ", ec.message()));
}

CheckpointStore::CheckpointStore(std::string directory, NoCreate) : directory_(std::move(directory)) {}

CheckpointStore CheckpointStore::in_directory(std::string checkpoint_dir) {
  return CheckpointStore(std::move(checkpoint_dir), NoCreate{});
}

CheckpointInfo locate_checkpoint(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw ConfigError(cat("checkpoint '", path, "' does not exist"));
  CheckpointInfo info;
  if (fs::is_directory(status)) {
    for (const fs::path& dir : {fs::path(path), fs::path(path) / "checkpoints"}) {
      if (!fs::is_directory(dir, ec)) continue;
      const CheckpointStore store = CheckpointStore::in_directory(dir.string());
      const std::vector<CheckpointInfo> complete = store.list_complete();
      if (!complete.empty()) {
        if (auto latest = store.find_latest()) return *latest;
      }
    }
    throw ConfigError(cat("'", path, "' holds no complete checkpoint (step-NNNNNN.h5), nor does its checkpoints/ folder"));
  }
  const std::string name = file_name(path);
  const std::optional<int64_t> step = parse_main_name(name);
  if (!step) {
    throw ConfigError(cat("'", path, "' is not a checkpoint: its name is not step-NNNNNN.h5 (give the main file; ",
                          "its rank parts step-NNNNNN.rank-RRRR.h5 are found beside it)"));
  }
  const fs::path parent = fs::path(path).parent_path();
  const CheckpointStore store = CheckpointStore::in_directory(parent.empty() ? "." : parent.string());
  const std::string reason = store.check(*step, &info);
  if (!reason.empty()) throw ConfigError(cat("checkpoint '", path, "' is not usable: ", reason));
  return info;
}

std::string CheckpointStore::main_path(int64_t step) const {
  return (fs::path(directory_) / (step_name(step) + kMainSuffix)).string();
}

std::string CheckpointStore::rank_path(int64_t step, int rank) const {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), ".rank-%04d.h5", rank);
  return (fs::path(directory_) / (step_name(step) + buffer)).string();
}

std::string CheckpointStore::latest_pointer_path() const { return (fs::path(directory_) / "latest").string(); }

std::string CheckpointStore::write_rank(int64_t step, int rank, int world_size, const CheckpointFill& fill) {
  RIL_CHECK(step >= 0, "checkpoint step must be >= 0, got ", step);
  RIL_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "bad rank ", rank, " for world size ", world_size);
  const std::string path = rank_path(step, rank);
  set_aside_if_damaged(path, kCheckpointRankKind, step, rank);
  write_atomically(path, kCheckpointRankKind, step, rank, world_size, fill);
  return path;
}

std::string CheckpointStore::write(int64_t step, const CheckpointFill& fill, int world_size) {
  RIL_CHECK(step >= 0, "checkpoint step must be >= 0, got ", step);
  RIL_CHECK(world_size >= 1, "world size must be >= 1, got ", world_size);
  if (world_size > 1) {
    std::vector<std::string> problems;
    for (int r = 0; r < world_size; ++r) {
      int w = 0;
      const std::string reason = check_file(rank_path(step, r), kCheckpointRankKind, step, r, &w);
      if (!reason.empty()) {
        problems.push_back(cat("'", rank_path(step, r), "': ", reason));
      } else if (w != world_size) {
        problems.push_back(cat("'", rank_path(step, r), "' was written for world size ", w));
      }
    }
    if (!problems.empty()) {
      std::string message = cat("not writing checkpoint '", main_path(step), "': ", problems.size(), " of ",
                                world_size, " rank parts are not ready (every rank must call write_rank, and the "
                                "ranks must synchronise, before write):");
      for (const std::string& p : problems) message += " " + p + ";";
      throw Error(message);
    }
  }
  const std::string path = main_path(step);
  set_aside_if_damaged(path, kCheckpointKind, step, -1);
  write_atomically(path, kCheckpointKind, step, -1, world_size, fill);

  // The pointer, replaced atomically, last.
  {
    AtomicFile pointer(latest_pointer_path());
    {
      std::ofstream out(pointer.temp_path(), std::ios::binary | std::ios::trunc);
      out << file_name(path) << "\n";
      out.close();
      if (!out) throw Error(cat("cannot write '", pointer.temp_path(), "'"));
    }
    pointer.commit();
  }
  std::error_code ec;
  const auto bytes = fs::file_size(path, ec);
  log_info(kTag, "wrote checkpoint '", path, "' (step ", step, ", ", ec ? 0 : bytes / (1 << 20), " MiB",
           world_size > 1 ? cat(", ", world_size, " rank parts") : std::string(), ")");
  try {
    prune();
  } catch (const std::exception& e) {
    log_warn(kTag, "could not delete old checkpoints in '", directory_, "': ", e.what());
  }
  return path;
}

std::vector<int64_t> CheckpointStore::main_file_steps() const {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (fs::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
    if (const auto step = parse_main_name(it->path().filename().string())) steps.push_back(*step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::string CheckpointStore::check(int64_t step, CheckpointInfo* info) const {
  const std::string path = main_path(step);
  int world_size = 0;
  std::string reason = check_file(path, kCheckpointKind, step, -1, &world_size);
  if (!reason.empty()) return reason;
  CheckpointInfo found;
  found.step = step;
  found.path = path;
  found.world_size = world_size;
  if (world_size > 1) {
    for (int r = 0; r < world_size; ++r) {
      int w = 0;
      const std::string rank_reason = check_file(rank_path(step, r), kCheckpointRankKind, step, r, &w);
      if (!rank_reason.empty()) return cat("its rank ", r, " part '", rank_path(step, r), "' is not usable: ", rank_reason);
      if (w != world_size) return cat("its rank ", r, " part was written for world size ", w, ", not ", world_size);
      found.rank_paths.push_back(rank_path(step, r));
    }
  }
  if (info) *info = std::move(found);
  return "";
}

std::optional<CheckpointInfo> CheckpointStore::find_latest() const {
  std::vector<int64_t> steps = main_file_steps();
  std::reverse(steps.begin(), steps.end());  // newest first

  // The pointer's checkpoint goes first when it names one.
  std::optional<int64_t> pointed;
  const std::string pointer = latest_pointer_path();
  std::error_code ec;
  if (fs::exists(pointer, ec)) {
    std::ifstream in(pointer, std::ios::binary);
    std::string name;
    std::getline(in, name);
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
    pointed = parse_main_name(name);
    if (!pointed) {
      log_warn(kTag, "'", pointer, "' holds '", name, "', not a checkpoint file name; ignoring it and looking for "
               "the newest complete checkpoint");
    } else {
      steps.erase(std::remove(steps.begin(), steps.end(), *pointed), steps.end());
      steps.insert(steps.begin(), *pointed);
    }
  }
  for (const int64_t step : steps) {
    CheckpointInfo info;
    const std::string reason = check(step, &info);
    if (reason.empty()) {
      if (pointed && step == *pointed) {
        for (const int64_t newer : steps) {
          if (newer > step && check(newer).empty()) {
            log_info(kTag, "'", main_path(newer), "' is newer than the checkpoint '", pointer,
                     "' names; it was not marked latest (the writer stopped first), so resuming from step ", step);
            break;
          }
        }
      }
      return info;
    }
    log_warn(kTag, "checkpoint '", main_path(step), "' is not usable: ", reason,
             ". Trying the previous checkpoint. The file is left as it is; inspect or delete it yourself");
  }
  if (pointed) {
    log_warn(kTag, "no complete checkpoint in '", directory_, "' although '", pointer, "' exists");
  }
  return std::nullopt;
}

std::vector<CheckpointInfo> CheckpointStore::list_complete() const {
  std::vector<CheckpointInfo> out;
  for (const int64_t step : main_file_steps()) {
    CheckpointInfo info;
    if (check(step, &info).empty()) out.push_back(std::move(info));
  }
  return out;
}

void CheckpointStore::prune() const {
  if (options_.keep_last == 0) return;
  const std::vector<CheckpointInfo> complete = list_complete();
  if (complete.size() <= static_cast<size_t>(options_.keep_last)) return;
  // The pointer's checkpoint is kept even when old (e.g. a user pointed `latest` back).
  std::optional<int64_t> pointed;
  {
    std::ifstream in(latest_pointer_path(), std::ios::binary);
    std::string name;
    if (std::getline(in, name)) {
      while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
      pointed = parse_main_name(name);
    }
  }
  const size_t remove_count = complete.size() - static_cast<size_t>(options_.keep_last);
  for (size_t i = 0; i < remove_count; ++i) {
    const CheckpointInfo& old = complete[i];
    if (pointed && *pointed == old.step) continue;
    // Main file first: once it is gone the step is no longer a candidate, whatever follows.
    fs::remove(old.path);
    for (const std::string& part : old.rank_paths) fs::remove(part);
    log_info(kTag, "deleted old checkpoint '", old.path, "'",
             old.rank_paths.empty() ? std::string() : cat(" and its ", old.rank_paths.size(), " rank parts"),
             " (keeping the newest ", options_.keep_last, ")");
  }
}

}  // namespace ril::io
