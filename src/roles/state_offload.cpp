#include "ril/roles/state_offload.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <torch/torch.h>

#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::roles {
namespace {

namespace fs = std::filesystem;

struct File {
  std::FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

}  // namespace

StateOffload::~StateOffload() {
  std::error_code ec;
  if (!path_.empty()) fs::remove(path_, ec);  // nothing to report from a destructor
}

void StateOffload::put_away(const std::vector<at::Tensor>& tensors) {
  RIL_CHECK(!away(), "offload: the state is already put away (", path_, ")");
  torch::NoGradGuard no_grad;
  std::vector<Item> items;
  std::set<const void*> impls, storages;
  bool any_cpu = false;
  for (const at::Tensor& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    if (!impls.insert(t.unsafeGetTensorImpl()).second) continue;  // listed twice
    RIL_CHECK(t.is_contiguous() && t.storage_offset() == 0, "offload: a ", t.sizes(),
              " tensor is not contiguous from its storage's start; cannot put it away exactly");
    RIL_CHECK(storages.insert(t.storage().unsafeGetStorageImpl()).second,
              "offload: two tensors share one storage; putting them away separately would split them");
    Item it;
    it.tensor = t;
    it.sizes = t.sizes().vec();
    it.options = t.options();
    it.nbytes = static_cast<int64_t>(t.nbytes());
    any_cpu = any_cpu || t.device().is_cpu();
    items.push_back(std::move(it));
  }
  if (items.empty()) return;
  // First copy everything away (nothing freed yet: a failed write leaves the state intact) ...
  int64_t offset = 0;
  if (any_cpu) {
    if (const fs::path dir = fs::path(path_).parent_path(); !dir.empty()) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      RIL_CHECK(!ec, "offload: cannot create the scratch directory ", dir.string(), ": ", ec.message());
    }
    File out;
    out.f = std::fopen(path_.c_str(), "wb");
    RIL_CHECK(out.f != nullptr, "offload: cannot write the scratch file ", path_, ": ", std::strerror(errno));
    for (Item& it : items) {
      if (!it.tensor.device().is_cpu()) continue;
      it.offset = offset;
      const size_t n = static_cast<size_t>(it.nbytes);
      RIL_CHECK(std::fwrite(it.tensor.data_ptr(), 1, n, out.f) == n, "offload: writing ", n, " bytes to ", path_,
                " failed: ", std::strerror(errno));
      offset += it.nbytes;
    }
    RIL_CHECK(std::fflush(out.f) == 0, "offload: writing ", path_, " failed: ", std::strerror(errno));
  }
  for (Item& it : items) {
    if (it.tensor.device().is_cpu()) continue;
    it.host = at::empty(it.sizes, it.options.device(at::kCPU).pinned_memory(true));
    it.host.copy_(it.tensor);
  }
  // ... then free: each tensor keeps its identity and points at an empty storage.
  bytes_ = 0;
  for (Item& it : items) {
    it.tensor.set_(at::empty({0}, it.options));
    bytes_ += it.nbytes;
  }
  items_ = std::move(items);
  if (any_cpu) trim_heap();
}

void StateOffload::bring_back() {
  if (!away()) return;
  torch::NoGradGuard no_grad;
  File in;
  for (Item& it : items_) {
    at::Tensor fresh;
    if (it.host.defined()) {
      fresh = it.host.to(it.options, /*non_blocking=*/false, /*copy=*/true);
    } else {
      if (!in.f) {
        in.f = std::fopen(path_.c_str(), "rb");
        RIL_CHECK(in.f != nullptr, "offload: cannot read the scratch file ", path_, ": ", std::strerror(errno));
      }
      fresh = at::empty(it.sizes, it.options);
      RIL_CHECK(std::fseek(in.f, static_cast<long>(it.offset), SEEK_SET) == 0, "offload: seek in ", path_, " failed");
      const size_t n = static_cast<size_t>(it.nbytes);
      RIL_CHECK(std::fread(fresh.data_ptr(), 1, n, in.f) == n, "offload: the scratch file ", path_,
                " is short or unreadable (", n, " bytes at ", it.offset, ")");
    }
    it.tensor.set_(fresh);
  }
  items_.clear();
  bytes_ = 0;
}

std::string StateOffload::where() const {
  bool file = false, pinned = false;
  for (const Item& it : items_) (it.host.defined() ? pinned : file) = true;
  if (file && pinned) return cat("the scratch file ", path_, " and pinned host memory");
  return pinned ? std::string("pinned host memory") : cat("the scratch file ", path_);
}

void release_gradients(const std::vector<at::Tensor>& params) {
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) const_cast<at::Tensor&>(p).mutable_grad().reset();
  }
}

void trim_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void go_idle(StateOffload& offload, const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& state,
             const char* mode, const char* who, bool log, bool& logged) {
  release_gradients(params);
  offload.put_away(state);
  if (!logged && offload.away() && log) {
    logged = true;
    log_info("train", "--offload ", mode, ": ", who, " (group rank 0) puts away ", offload.bytes_away() >> 20,
             " MiB between its steps, to ", offload.where());
  }
}

}  // namespace ril::roles
