#include "ril/io/module_state.h"

#include <torch/optim/adamw.h>

#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <type_traits>
#include <unordered_map>

#include "ril/common/error.h"
#include "ril/io/h5_tensor.h"

namespace ril::io {
namespace {

// At most this many entries per category in a mismatch message; the rest are counted.
constexpr size_t kMaxListed = 50;

std::string join_path(const std::string& group, const std::string& name) {
  if (group.empty() || group == "/") return name;
  return group + "/" + name;
}

std::string shape_text(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

// "float32", "bfloat16", ... as the store names them, so both sides of a message read alike.
std::string dtype_name(at::ScalarType dtype) {
  try {
    return element_type_name(element_type_for(dtype));
  } catch (const Error&) {
    return c10::toString(dtype);
  }
}

void check_name(const std::string& name, const std::string& context) {
  RIL_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
            "tensor name '", name, "' in ", context, " cannot be stored: names must be non-empty and free of '/'");
}

// "a, b, c ... and 7 more"
std::string listed(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size() && i < kMaxListed; ++i) text += (i ? "; " : "") + items[i];
  if (items.size() > kMaxListed) text += cat(" ... and ", items.size() - kMaxListed, " more");
  return text;
}

// Names of the datasets directly in `group` (not subgroups).
std::vector<std::string> dataset_names(const H5File& file, const std::string& group) {
  std::vector<std::string> names;
  for (const std::string& name : file.list(group)) {
    if (!file.is_group(join_path(group, name))) names.push_back(name);
  }
  return names;
}

// Optimizer state is keyed by the parameter's TensorImpl address: as text in LibTorch 1.13
// (c10::guts::to_string of the pointer), as the pointer itself in LibTorch 2.x.
using StateKey = std::decay_t<decltype(std::declval<torch::optim::AdamW&>().state())>::key_type;
template <typename Key>
Key state_key_as(const at::Tensor& param) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << static_cast<const void*>(param.unsafeGetTensorImpl());
    return text.str();
  } else {
    return static_cast<Key>(param.unsafeGetTensorImpl());
  }
}
StateKey state_key(const at::Tensor& param) { return state_key_as<StateKey>(param); }

// TensorImpl* -> name for every named parameter.
std::unordered_map<const c10::TensorImpl*, std::string> names_by_impl(const NamedTensors& params) {
  std::unordered_map<const c10::TensorImpl*, std::string> names;
  std::set<std::string> seen;
  for (const auto& [name, tensor] : params) {
    check_name(name, "optimizer parameters");
    RIL_CHECK(seen.insert(name).second, "parameter name '", name, "' appears twice");
    RIL_CHECK(tensor.defined(), "parameter '", name, "' is an undefined tensor");
    names[tensor.unsafeGetTensorImpl()] = name;
  }
  return names;
}

// Parameter names of each group of `optimizer`, in the group's order.
std::vector<std::vector<std::string>> group_param_names(const torch::optim::AdamW& optimizer,
                                                        const NamedTensors& params) {
  const auto names = names_by_impl(params);
  std::vector<std::vector<std::string>> groups;
  for (size_t g = 0; g < optimizer.param_groups().size(); ++g) {
    std::vector<std::string> group;
    const auto& group_params = optimizer.param_groups()[g].params();
    for (size_t i = 0; i < group_params.size(); ++i) {
      const auto it = names.find(group_params[i].unsafeGetTensorImpl());
      RIL_CHECK(it != names.end(), "parameter ", i, " of optimizer group ", g, " (shape ",
                shape_text(group_params[i].sizes()), ") is not among the ", params.size(),
                " named parameters given; pass the module's named_parameters()");
      group.push_back(it->second);
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

std::string group_path(const std::string& group, size_t index) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "groups/%03zu", index);
  return join_path(group, buffer);
}

// Reads `name` and checks it against `like` (the parameter): same shape and dtype.
at::Tensor read_state_tensor(const H5File& file, const std::string& name, const at::Tensor& like,
                             std::vector<std::string>& problems) {
  if (!file.exists(name)) {
    problems.push_back(cat(name, " is missing"));
    return {};
  }
  at::Tensor t = read_tensor(file, name);
  if (t.sizes() != like.sizes() || t.scalar_type() != like.scalar_type()) {
    problems.push_back(cat(name, ": checkpoint ", dtype_name(t.scalar_type()), " ", shape_text(t.sizes()),
                           " vs parameter ", dtype_name(like.scalar_type()), " ", shape_text(like.sizes())));
    return {};
  }
  return t.to(like.device());
}

}  // namespace

void save_tensors(H5File& file, const std::string& group, const NamedTensors& tensors) {
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    check_name(name, cat("group '", group, "' of '", file.path(), "'"));
    RIL_CHECK(seen.insert(name).second, "tensor name '", name, "' appears twice in the tensors for group '", group,
              "' of '", file.path(), "'");
    RIL_CHECK(tensor.defined(), "tensor '", name, "' for group '", group, "' is undefined");
  }
  file.create_group(group);
  // Uncompressed: parameters compress poorly and checkpoints should be quick to write.
  DatasetOptions options;
  options.compression = 0;
  for (const auto& [name, tensor] : tensors) write_tensor(file, join_path(group, name), tensor.detach(), options);
}

NamedTensors read_tensors(const H5File& file, const std::string& group) {
  RIL_CHECK(file.is_group(group), "group '", group, "' not found in '", file.path(), "'");
  NamedTensors out;
  for (const std::string& name : dataset_names(file, group)) {
    out.emplace_back(name, read_tensor(file, join_path(group, name)));
  }
  return out;
}

void load_tensors_into(const H5File& file, const std::string& group, const NamedTensors& targets) {
  RIL_CHECK(file.is_group(group), "group '", group, "' not found in '", file.path(), "'");
  const std::vector<std::string> stored = dataset_names(file, group);
  const std::set<std::string> stored_set(stored.begin(), stored.end());
  std::set<std::string> target_names;
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, tensor] : targets) {
    RIL_CHECK(target_names.insert(name).second, "tensor name '", name, "' appears twice in the load targets");
    RIL_CHECK(tensor.defined(), "load target '", name, "' is undefined");
    if (!stored_set.count(name)) {
      missing.push_back(cat(name, " ", dtype_name(tensor.scalar_type()), " ", shape_text(tensor.sizes())));
      continue;
    }
    const std::string path = join_path(group, name);
    const std::vector<int64_t> shape = file.shape(path);
    const ElementType type = file.element_type(path);
    const bool same_type = element_type_for(tensor.scalar_type()) == type;
    if (!same_type || at::IntArrayRef(shape) != tensor.sizes()) {
      mismatched.push_back(cat(name, ": checkpoint ", element_type_name(type), " ", shape_text(shape), " vs target ",
                               dtype_name(tensor.scalar_type()), " ", shape_text(tensor.sizes())));
    }
  }
  for (const std::string& name : stored) {
    if (!target_names.count(name)) {
      const std::string path = join_path(group, name);
      unexpected.push_back(cat(name, " ", element_type_name(file.element_type(path)), " ",
                               shape_text(file.shape(path))));
    }
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string message = cat("cannot load group '", group, "' of '", file.path(), "' into ", targets.size(),
                              " tensors:");
    if (!missing.empty()) message += cat(" missing from the checkpoint (", missing.size(), "): ", listed(missing), ".");
    if (!unexpected.empty()) {
      message += cat(" unexpected in the checkpoint (", unexpected.size(), "): ", listed(unexpected), ".");
    }
    if (!mismatched.empty()) {
      message += cat(" shape or dtype differs (", mismatched.size(), "): ", listed(mismatched), ".");
    }
    message += " Was the checkpoint written by a model with another configuration?";
    throw Error(message);
  }
  // Every check passed: now copy. The no-grad guard allows in-place writes into leaf parameters.
  at::NoGradGuard no_grad;
  for (const auto& [name, tensor] : targets) {
    at::Tensor target = tensor;
    target.copy_(read_tensor(file, join_path(group, name)));
  }
}

void save_adamw(H5File& file, const std::string& group, const torch::optim::AdamW& optimizer,
                const NamedTensors& params) {
  const auto groups = group_param_names(optimizer, params);
  file.create_group(group);
  file.set_attr(group, "optimizer", std::string("adamw"));
  file.set_attr(group, "group_count", static_cast<int64_t>(groups.size()));
  DatasetOptions options;
  options.compression = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& param_group = optimizer.param_groups()[g];
    const auto* adamw = dynamic_cast<const torch::optim::AdamWOptions*>(&param_group.options());
    RIL_CHECK(adamw != nullptr, "optimizer group ", g, " does not hold AdamW options");
    const std::string path = group_path(group, g);
    file.create_group(path);
    file.set_attr(path, "lr", adamw->lr());
    file.set_attr(path, "beta1", std::get<0>(adamw->betas()));
    file.set_attr(path, "beta2", std::get<1>(adamw->betas()));
    file.set_attr(path, "eps", adamw->eps());
    file.set_attr(path, "weight_decay", adamw->weight_decay());
    file.set_attr(path, "amsgrad", static_cast<int64_t>(adamw->amsgrad()));
    file.write_text(join_path(path, "params"), groups[g]);

    const auto& tensors = param_group.params();
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto it = optimizer.state().find(state_key(tensors[i]));
      if (it == optimizer.state().end()) continue;  // never stepped
      const auto* state = dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get());
      RIL_CHECK(state != nullptr, "optimizer state of '", groups[g][i], "' is not AdamW state");
      const std::string state_path = join_path(join_path(group, "state"), groups[g][i]);
      file.create_group(state_path);
      file.set_attr(state_path, "step", static_cast<int64_t>(state->step()));
      write_tensor(file, join_path(state_path, "exp_avg"), state->exp_avg(), options);
      write_tensor(file, join_path(state_path, "exp_avg_sq"), state->exp_avg_sq(), options);
      if (state->max_exp_avg_sq().defined()) {
        write_tensor(file, join_path(state_path, "max_exp_avg_sq"), state->max_exp_avg_sq(), options);
      }
    }
  }
}

void load_adamw(const H5File& file, const std::string& group, torch::optim::AdamW& optimizer,
                const NamedTensors& params) {
  const std::string where = cat("group '", group, "' of '", file.path(), "'");
  RIL_CHECK(file.is_group(group), "optimizer ", where, " not found");
  RIL_CHECK(file.has_attr(group, "optimizer") && file.attr_string(group, "optimizer") == "adamw", "optimizer ",
            where, " was not written by save_adamw");
  const auto groups = group_param_names(optimizer, params);
  const int64_t stored_groups = file.attr_int(group, "group_count");
  RIL_CHECK(stored_groups == static_cast<int64_t>(groups.size()), "optimizer ", where, " has ", stored_groups,
            " parameter groups but the optimizer has ", groups.size());

  // Check everything first, then change the optimizer.
  std::vector<std::string> problems;
  std::set<std::string> known;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::vector<std::string> stored = file.read_text(join_path(group_path(group, g), "params"));
    if (stored != groups[g]) {
      std::vector<std::string> only_file, only_optimizer;
      const std::set<std::string> a(stored.begin(), stored.end()), b(groups[g].begin(), groups[g].end());
      for (const auto& n : stored) if (!b.count(n)) only_file.push_back(n);
      for (const auto& n : groups[g]) if (!a.count(n)) only_optimizer.push_back(n);
      problems.push_back(cat("group ", g, " parameters differ (checkpoint ", stored.size(), ", optimizer ",
                             groups[g].size(), "; only in checkpoint: ", listed(only_file),
                             "; only in optimizer: ", listed(only_optimizer),
                             only_file.empty() && only_optimizer.empty() ? "; same names, other order" : "", ")"));
    }
    known.insert(groups[g].begin(), groups[g].end());
  }
  const std::string state_group = join_path(group, "state");
  std::vector<std::string> stored_states;
  if (file.exists(state_group)) stored_states = file.list(state_group);
  for (const std::string& name : stored_states) {
    if (!known.count(name)) problems.push_back(cat("state for unknown parameter '", name, "'"));
  }
  if (!problems.empty()) {
    throw Error(cat("cannot load optimizer ", where, ": ", listed(problems)));
  }

  std::map<std::string, at::Tensor> by_name;
  for (const auto& [name, tensor] : params) by_name[name] = tensor;
  std::vector<std::pair<StateKey, std::unique_ptr<torch::optim::AdamWParamState>>> states;
  for (const std::string& name : stored_states) {
    const std::string path = join_path(state_group, name);
    const at::Tensor& param = by_name.at(name);
    auto state = std::make_unique<torch::optim::AdamWParamState>();
    state->step(file.attr_int(path, "step"));
    state->exp_avg(read_state_tensor(file, join_path(path, "exp_avg"), param, problems));
    state->exp_avg_sq(read_state_tensor(file, join_path(path, "exp_avg_sq"), param, problems));
    if (file.exists(join_path(path, "max_exp_avg_sq"))) {
      state->max_exp_avg_sq(read_state_tensor(file, join_path(path, "max_exp_avg_sq"), param, problems));
    }
    states.emplace_back(state_key(param), std::move(state));
  }
  if (!problems.empty()) throw Error(cat("cannot load optimizer ", where, ": ", listed(problems)));

  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string path = group_path(group, g);
    auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&optimizer.param_groups()[g].options());
    RIL_CHECK(adamw != nullptr, "optimizer group ", g, " does not hold AdamW options");
    adamw->lr(file.attr_double(path, "lr"));
    adamw->betas(std::make_tuple(file.attr_double(path, "beta1"), file.attr_double(path, "beta2")));
    adamw->eps(file.attr_double(path, "eps"));
    adamw->weight_decay(file.attr_double(path, "weight_decay"));
    adamw->amsgrad(file.attr_int(path, "amsgrad") != 0);
  }
  optimizer.state().clear();
  for (auto& [key, state] : states) optimizer.state()[key] = std::move(state);
}

FlatAdamWState flat_adamw_state(const torch::optim::AdamW& optimizer, const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> m, v;
  FlatAdamWState out;
  size_t with_state = 0;
  for (const at::Tensor& p : params) {
    const auto it = optimizer.state().find(state_key(p));
    if (it == optimizer.state().end()) {
      m.push_back(at::zeros({p.numel()}, at::kFloat));
      v.push_back(at::zeros({p.numel()}, at::kFloat));
      continue;
    }
    const auto* state = dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get());
    RIL_CHECK(state != nullptr, "optimizer state is not AdamW state");
    RIL_CHECK(with_state == 0 || state->step() == out.step, "AdamW state: parameters at steps ", out.step, " and ",
              state->step(), " cannot form one flat state");
    out.step = state->step();
    ++with_state;
    m.push_back(state->exp_avg().detach().to(at::kCPU, at::kFloat).reshape({-1}));
    v.push_back(state->exp_avg_sq().detach().to(at::kCPU, at::kFloat).reshape({-1}));
  }
  RIL_CHECK(with_state == 0 || with_state == params.size(), "AdamW state: ", with_state, " of ", params.size(),
            " parameters have state; a flat state needs all or none");
  out.exp_avg = m.empty() ? at::zeros({0}) : at::cat(m);
  out.exp_avg_sq = v.empty() ? at::zeros({0}) : at::cat(v);
  return out;
}

void set_flat_adamw_state(torch::optim::AdamW& optimizer, const std::vector<at::Tensor>& params,
                          const FlatAdamWState& state) {
  int64_t total = 0;
  for (const at::Tensor& p : params) total += p.numel();
  RIL_CHECK(state.exp_avg.numel() == total && state.exp_avg_sq.numel() == total, "AdamW state of ",
            state.exp_avg.numel(), " elements for parameters of ", total);
  int64_t offset = 0;
  for (const at::Tensor& p : params) {
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(state.step);
    s->exp_avg(state.exp_avg.narrow(0, offset, p.numel()).reshape(p.sizes()).to(p.options()).clone());
    s->exp_avg_sq(state.exp_avg_sq.narrow(0, offset, p.numel()).reshape(p.sizes()).to(p.options()).clone());
    optimizer.state()[state_key(p)] = std::move(s);
    offset += p.numel();
  }
}

void save_generator(H5File& file, const std::string& name, const at::Generator& generator) {
  at::Tensor state;
  {
    // The generator's own mutex, as torch.Generator.get_state takes it.
    std::lock_guard<std::mutex> lock(const_cast<at::Generator&>(generator).mutex());
    state = generator.get_state();
  }
  write_tensor(file, name, state);
  // The device type only: a CUDA generator state loads into any GPU's generator.
  file.set_attr(name, "device_type", c10::DeviceTypeName(generator.device().type(), /*lower_case=*/true));
}

void load_generator(const H5File& file, const std::string& name, at::Generator& generator) {
  const at::Tensor state = read_tensor(file, name);
  RIL_CHECK(state.scalar_type() == at::kByte, "generator state '", name, "' in '", file.path(), "' is ",
            dtype_name(state.scalar_type()), ", not uint8");
  if (file.has_attr(name, "device_type")) {
    const std::string stored = file.attr_string(name, "device_type");
    const std::string wanted = c10::DeviceTypeName(generator.device().type(), /*lower_case=*/true);
    RIL_CHECK(stored == wanted, "generator state '", name, "' in '", file.path(), "' is from a ", stored,
              " generator; cannot load it into a ", wanted, " generator");
  }
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

void write_int64(H5File& file, const std::string& name, int64_t value) {
  file.write_array(name, ElementType::kInt64, {}, &value);
}

int64_t read_int64(const H5File& file, const std::string& name) {
  const RawArray raw = file.read_array(name);
  RIL_CHECK(raw.type == ElementType::kInt64 && raw.shape.empty(), "'", name, "' in '", file.path(),
            "' is not a scalar int64 (", element_type_name(raw.type), ", ", raw.shape.size(), " dimensions)");
  return *raw.as<int64_t>();
}

void write_string(H5File& file, const std::string& name, const std::string& text) {
  file.write_text(name, {text});
}

std::string read_string(const H5File& file, const std::string& name) {
  const std::vector<std::string> texts = file.read_text(name);
  RIL_CHECK(texts.size() == 1, "'", name, "' in '", file.path(), "' holds ", texts.size(),
            " texts, not one string");
  return texts.front();
}

}  // namespace ril::io
