#include "ril/model/checkpoint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::model {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

void make_dirs(const std::string& dir) {
  std::string path;
  std::stringstream ss(dir);
  std::string part;
  if (!dir.empty() && dir[0] == '/') path = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    path += part + "/";
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      throw Error(cat(dir, ": cannot create directory ", path, ": ", std::strerror(errno)));
    }
  }
}

std::string dtype_config_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: return "float32";
  }
}

TensorMap tensors_for_save(const torch::nn::Module& module, torch::Dtype dtype) {
  TensorMap out;
  for (const auto& [name, t] : module_tensors(module)) {
    out.emplace(name, t.is_floating_point() ? t.to(torch::kCPU, dtype) : t.to(torch::kCPU));
  }
  return out;
}

LoadOptions qwen2_load_options(const Qwen2Config& c, const std::string& source,
                               const std::string& prefix) {
  LoadOptions o;
  o.source = source;
  o.ignore_suffixes = {"rotary_emb.inv_freq"};
  if (c.tie_word_embeddings) o.ignore_prefixes.push_back(prefix + "lm_head.");
  return o;
}

}  // namespace

TensorMap module_tensors(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out.emplace(p.key(), p.value().detach());
  return out;
}

void load_module_tensors(torch::nn::Module& module, const TensorMap& tensors,
                         const LoadOptions& options) {
  torch::NoGradGuard no_grad;
  auto params = module.named_parameters(/*recurse=*/true);
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& p : params) {
    auto it = tensors.find(p.key());
    if (it == tensors.end()) {
      missing.push_back(p.key() + " " + shape_of(p.value()));
    } else if (it->second.sizes() != p.value().sizes()) {
      mismatched.push_back(p.key() + ": expected " + shape_of(p.value()) + ", file has " +
                           shape_of(it->second));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (params.find(name) != nullptr) continue;
    bool ignored = false;
    for (const auto& pre : options.ignore_prefixes) ignored |= starts_with(name, pre);
    for (const auto& suf : options.ignore_suffixes) ignored |= ends_with(name, suf);
    if (ignored) {
      log_debug("model", options.source, ": skipping tensor ", name);
    } else {
      unexpected.push_back(name + " " + shape_of(t));
    }
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      const size_t shown = std::min<size_t>(v.size(), 20);
      for (size_t i = 0; i < shown; ++i) s += "\n    " + v[i];
      if (v.size() > shown) s += cat("\n    ... and ", v.size() - shown, " more");
      return s;
    };
    std::string msg = cat(options.source, ": weights do not match the model");
    if (!missing.empty()) msg += cat("\n  missing (", missing.size(), "):", join(missing));
    if (!unexpected.empty()) msg += cat("\n  unexpected (", unexpected.size(), "):", join(unexpected));
    if (!mismatched.empty()) msg += cat("\n  wrong shape (", mismatched.size(), "):", join(mismatched));
    throw Error(msg);
  }
  for (auto& p : params) p.value().copy_(tensors.at(p.key()));
}

LoadOptions hf_load_options(const ModelConfig& config, const std::string& source) {
  switch (config.kind) {
    case ModelKind::kLlava: {
      LoadOptions o = qwen2_load_options(config.llava.text_config, source, "language_model.");
      o.ignore_prefixes.push_back("vision_tower.vision_model.head.");  // SigLIP pooling head: unused
      return o;
    }
    case ModelKind::kQwen2_5_VL: return qwen2_load_options(config.qwen2_5_vl.text_config, source, "");
    case ModelKind::kInternVL: return qwen2_load_options(config.internvl.text_config, source, "language_model.");
    default: return qwen2_load_options(config.qwen2, source, "");
  }
}

TensorMap hf_names_to_ril(const ModelConfig& config, const TensorMap& tensors, const std::string& source) {
  switch (config.kind) {
    case ModelKind::kLlava: return llava_names_to_v4(tensors, source);
    case ModelKind::kQwen2_5_VL: return qwen2_5_vl_names_to_v4(tensors, source);
    case ModelKind::kInternVL: return internvl_names_to_v4(tensors, source);
    default: return tensors;
  }
}

PretrainedModel load_pretrained(const std::string& dir) {
  const ModelConfig config = load_model_config(dir);
  const TensorMap tensors = read_safetensors_dir(dir);
  PretrainedModel m = PretrainedModel::build(config);
  m.load_tensors(tensors, dir);
  const Qwen2Config& t = config.text();
  log_info("model", "loaded ", model_kind_name(config.kind), " from ", dir, " (text ", t.num_hidden_layers,
           " layers, hidden ", t.hidden_size, ")");
  return m;
}

Qwen2ForCausalLM load_qwen2_for_causal_lm(const std::string& dir) {
  const ModelConfig config = load_model_config(dir);
  RIL_CHECK(config.kind == ModelKind::kQwen2, dir, "/config.json: model_type '",
            model_kind_name(config.kind), "' is not a Qwen2 text model");
  return load_pretrained(dir).lm;
}

LlavaForConditionalGeneration load_llava(const std::string& dir) {
  const ModelConfig config = load_model_config(dir);
  RIL_CHECK(config.kind == ModelKind::kLlava, dir, "/config.json: model_type '",
            model_kind_name(config.kind), "' is not LLaVA");
  return load_pretrained(dir).llava;
}

namespace {

// Wraps one family's module in a PretrainedModel (member `slot`, config `field`) and saves it.
template <typename Holder, typename Config>
void save_module(Holder& module, ModelKind kind, Config ModelConfig::*field, Holder PretrainedModel::*slot,
                 const std::string& dir, const SaveOptions& options) {
  PretrainedModel m;
  m.config.kind = kind;
  m.config.*field = module->config();
  m.*slot = module;
  m.save(dir, options);
}

}  // namespace

void save_pretrained(Qwen2ForCausalLM& lm, const std::string& dir, const SaveOptions& options) {
  save_module(lm, ModelKind::kQwen2, &ModelConfig::qwen2, &PretrainedModel::lm, dir, options);
}

void save_pretrained(LlavaForConditionalGeneration& llava, const std::string& dir, const SaveOptions& options) {
  save_module(llava, ModelKind::kLlava, &ModelConfig::llava, &PretrainedModel::llava, dir, options);
}

void save_pretrained(Qwen2_5_VLForConditionalGeneration& model, const std::string& dir, const SaveOptions& options) {
  save_module(model, ModelKind::kQwen2_5_VL, &ModelConfig::qwen2_5_vl, &PretrainedModel::qwen2_5_vl, dir, options);
}

void save_pretrained(InternVLForConditionalGeneration& model, const std::string& dir, const SaveOptions& options) {
  save_module(model, ModelKind::kInternVL, &ModelConfig::internvl, &PretrainedModel::internvl, dir, options);
}

void PretrainedModel::save(const std::string& dir, const SaveOptions& options) {
  make_dirs(dir);
  ModelConfig c = config;
  c.text().torch_dtype = dtype_config_name(options.dtype);
  write_safetensors_dir(dir, tensors_for_save(module(), options.dtype), options.max_shard_bytes);
  save_model_config(c, dir);
}

void PretrainedModel::load_tensors(const TensorMap& tensors, const std::string& source) {
  load_module_tensors(module(), hf_names_to_ril(config, tensors, source), hf_load_options(config, source));
}

void save_discriminator(Qwen2Discriminator& disc, const std::string& dir,
                        const SaveOptions& options) {
  make_dirs(dir);
  Qwen2Config c = disc->config();
  c.torch_dtype = dtype_config_name(options.dtype);
  nlohmann::json j = qwen2_config_to_json(c);
  j["architectures"] = {"Qwen2ForSequenceClassification"};
  j["num_labels"] = 1;
  j["id2label"] = {{"0", "LABEL_0"}};
  j["label2id"] = {{"LABEL_0", 0}};
  write_safetensors_dir(dir, tensors_for_save(*disc, options.dtype), options.max_shard_bytes);
  const std::string file = dir + "/config.json";
  std::ofstream out(file);
  out << j.dump(2) << "\n";
  RIL_CHECK(out.good(), file, ": write failed");
}

Qwen2Discriminator load_discriminator(const std::string& dir) {
  const ModelConfig config = load_model_config(dir);
  RIL_CHECK(config.kind == ModelKind::kQwen2, dir, "/config.json: a discriminator is a qwen2 model");
  Qwen2Discriminator disc(config.qwen2);
  LoadOptions o;
  o.source = dir;
  o.ignore_suffixes = {"rotary_emb.inv_freq"};
  load_module_tensors(*disc, read_safetensors_dir(dir), o);
  return disc;
}

}  // namespace ril::model
