// A component's idle state out of the way between its phases (`ril train --offload`,
// common/offload_mode.h). put_away(tensors) copies each tensor's elements away and points the
// tensor at an empty storage, so its memory is freed while every holder (the optimizer's state
// map, ShardedAdamW, the module, the weight sync) keeps the same tensor object; bring_back()
// gives each tensor a fresh storage of its old shape holding exactly the bytes it had (bitwise:
// raw copies, no conversion).
//   CPU tensors  -> a scratch file (`path`, rewritten at each put_away, removed by the
//                   destructor); after freeing, malloc_trim(0) (glibc) hands the freed heap back
//                   to the OS, else RSS would not show it;
//   CUDA tensors -> pinned host memory (the caching allocator keeps the freed blocks reserved
//                   for the next phase's use: torch's memory_allocated drops, memory_reserved
//                   need not).
// Tensors must be contiguous (parameters and AdamW moments are); one holding no elements or an
// undefined one is skipped, a tensor listed twice is put away once. Two distinct tensors sharing
// one storage are refused (ril::Error): restoring them separately would split them.
// Which ranks call: any; local.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace ril::roles {

class StateOffload {
 public:
  explicit StateOffload(std::string path) : path_(std::move(path)) {}
  ~StateOffload();
  StateOffload(const StateOffload&) = delete;
  StateOffload& operator=(const StateOffload&) = delete;

  // Throws ril::Error when already away, or the scratch file cannot be written (then nothing
  // has been freed).
  void put_away(const std::vector<at::Tensor>& tensors);
  // No-op when nothing is away. Throws ril::Error when the scratch file is short or unreadable.
  void bring_back();
  bool away() const { return !items_.empty(); }
  int64_t bytes_away() const { return bytes_; }
  const std::string& path() const { return path_; }
  std::string where() const;  // "the scratch file PATH" and/or "pinned host memory"

 private:
  struct Item {
    at::Tensor tensor;      // the holder's tensor (same TensorImpl)
    std::vector<int64_t> sizes;
    at::TensorOptions options;
    int64_t offset = 0;     // in the scratch file (CPU)
    int64_t nbytes = 0;
    at::Tensor host;        // pinned copy (CUDA)
  };
  std::string path_;
  std::vector<Item> items_;
  int64_t bytes_ = 0;
};

// A trainer (learner or D) going idle: releases the gradients of `params`, puts `state` away,
// and the first time something is away (`logged` false) logs, when `log` (its group's rank 0),
// how much `who` ("the learner") put where under --offload `mode`.
void go_idle(StateOffload& offload, const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& state,
             const char* mode, const char* who, bool log, bool& logged);

// Runs `use` with what `offload` (null: no --offload) holds brought back (a checkpoint reads it),
// then puts it away again through `go_idle`; with nothing away, just runs `use`.
template <typename Use, typename GoIdle>
void with_state_back(StateOffload* offload, Use&& use, GoIdle&& go_idle) {
  const bool away = offload != nullptr && offload->away();
  if (away) offload->bring_back();
  use();
  if (away) go_idle();
}

// Releases the gradients of `params` (undefined .grad()): what an idle component need not keep
// when its next update starts with zero_grad (set to none) anyway.
void release_gradients(const std::vector<at::Tensor>& params);

// glibc: malloc_trim(0), so that freed heap memory leaves RSS; elsewhere nothing.
void trim_heap();

}  // namespace ril::roles
