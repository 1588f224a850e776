// Training state in the HDF5 store: named tensors (a module's parameters and buffers), AdamW
// optimizer state, random generator state, int64 counters and text. Everything is written
// bitwise (any dtype the store holds, bf16/f16 as bit patterns), so that a run resumed from a
// checkpoint continues exactly as if it had not stopped.
//
// Layout inside the given HDF5 group `g` (all paths relative to the file root):
//   save_tensors:  g/<name>                  one dataset per tensor, original dtype and shape
//   save_adamw:    g/groups/<i>              attrs lr, beta1, beta2, eps, weight_decay, amsgrad;
//                  g/groups/<i>/params       text: parameter names of group i, in order
//                  g/state/<name>            attr step; datasets exp_avg, exp_avg_sq
//                                            (+ max_exp_avg_sq with amsgrad)
//   save_generator: g                        uint8 dataset: at::Generator::get_state()
//   write_int64:   g                         scalar int64 dataset
//   write_string:  g                         text group of one entry (uint8 bytes + offsets)
//
// This area does not know about models: callers pass tensors by name, e.g. a module's
// named_parameters() followed by named_buffers(). Which ranks call: whichever rank owns the
// state (the model on rank 0 of its group, generators and cursors on every rank).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "ril/io/h5_file.h"

namespace torch::optim {
class AdamW;
}  // namespace torch::optim

namespace ril::io {

// Tensors by name, e.g. {"fc.weight", w}, {"fc.bias", b}. Names must be unique, non-empty and
// free of '/' (a module's dotted names are fine).
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes each tensor as `<group>/<name>` (CUDA tensors are copied to the host). The group is
// created; it must not already hold a tensor of the same name.
void save_tensors(H5File& file, const std::string& group, const NamedTensors& tensors);

// Reads every tensor of `group` (CPU, the dtype and shape it was written with), sorted by name.
NamedTensors read_tensors(const H5File& file, const std::string& group);

// Copies the stored tensors into existing `targets` (any device), bitwise. All-or-nothing:
// before anything is copied, every name, shape and dtype is checked, and a ril::Error lists
// the missing entries (in targets, not in the file), the unexpected ones (in the file, not in
// targets) and the mismatched ones with both shapes and dtypes.
void load_tensors_into(const H5File& file, const std::string& group, const NamedTensors& targets);

// AdamW state: per parameter step, exp_avg, exp_avg_sq (and max_exp_avg_sq with amsgrad), plus
// each parameter group's options. `params` names the optimizer's parameters (every parameter of
// every group must appear in it, matched by identity); the state is stored by these names, so
// a fresh optimizer over a fresh model with the same names restores it. Parameters that have
// no state yet (never stepped) are stored without one.
void save_adamw(H5File& file, const std::string& group, const torch::optim::AdamW& optimizer,
                const NamedTensors& params);
// Restores state and group options into `optimizer` (built over the same parameter names in
// the same groups). Checks group count, parameter names per group, and state shapes/dtypes
// before changing anything; throws ril::Error naming every difference.
void load_adamw(const H5File& file, const std::string& group, torch::optim::AdamW& optimizer,
                const NamedTensors& params);

// AdamW state of `params` (in that order) as flat float32 buffers, the layout of the sharded
// optimizer (dist/sharded_optimizer.h): what converts a --shard none checkpoint into shards and
// back. flat_adamw_state gives step 0 and zeros when no parameter has state yet, and throws
// ril::Error when some have and others have not, or their steps differ. set_flat_adamw_state
// gives every parameter the state cut out of the buffers (numel = the parameters' total).
struct FlatAdamWState {
  int64_t step = 0;
  at::Tensor exp_avg, exp_avg_sq;  // [sum of numel] float32, CPU
};
FlatAdamWState flat_adamw_state(const torch::optim::AdamW& optimizer, const std::vector<at::Tensor>& params);
void set_flat_adamw_state(torch::optim::AdamW& optimizer, const std::vector<at::Tensor>& params,
                          const FlatAdamWState& state);

// Random generator state (CPU or CUDA at::Generator): the byte tensor of get_state(), so that
// after load_generator the generator produces the same numbers as when it was saved.
void save_generator(H5File& file, const std::string& name, const at::Generator& generator);
void load_generator(const H5File& file, const std::string& name, at::Generator& generator);

// Counters (step, data cursor, ...) and text (resolved config INI, JSON metrics history).
void write_int64(H5File& file, const std::string& name, int64_t value);
int64_t read_int64(const H5File& file, const std::string& name);
void write_string(H5File& file, const std::string& name, const std::string& text);
std::string read_string(const H5File& file, const std::string& name);

}  // namespace ril::io
