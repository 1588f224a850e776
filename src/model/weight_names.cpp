#include "ril/model/weight_names.h"

#include "ril/common/error.h"

namespace ril::model {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The composite-model rules shared by LLaVA and InternVL (4.52+ in-memory names -> 4.x).
const std::vector<PrefixRule>& llava_like_rules() {
  static const std::vector<PrefixRule> rules = {
      {"model.language_model.", "language_model.model."},
      {"model.vision_tower.", "vision_tower."},
      {"model.multi_modal_projector.", "multi_modal_projector."},
      {"lm_head.", "language_model.lm_head."},
  };
  return rules;
}

}  // namespace

TensorMap rename_prefixes(const TensorMap& tensors, const std::vector<PrefixRule>& rules,
                          const std::string& source) {
  TensorMap out;
  std::map<std::string, std::string> origin;  // new name -> file name
  for (const auto& [name, t] : tensors) {
    std::string n = name;
    for (const PrefixRule& r : rules) {
      if (starts_with(n, r.from)) {
        n = r.to + n.substr(r.from.size());
        break;
      }
    }
    auto [it, inserted] = origin.emplace(n, name);
    RIL_CHECK(inserted, source, ": tensors '", it->second, "' and '", name,
              "' are both the model's '", n, "' (two naming schemes mixed in one checkpoint?)");
    out.emplace(n, t);
  }
  return out;
}

TensorMap llava_names_to_v4(const TensorMap& tensors, const std::string& source) {
  TensorMap v4 = rename_prefixes(tensors, llava_like_rules(), source);
  // transformers 5.6+ SigLIP towers have no `vision_model.` level.
  static const std::vector<PrefixRule> siglip = {
      {"vision_tower.embeddings.", "vision_tower.vision_model.embeddings."},
      {"vision_tower.encoder.", "vision_tower.vision_model.encoder."},
      {"vision_tower.post_layernorm.", "vision_tower.vision_model.post_layernorm."},
      {"vision_tower.head.", "vision_tower.vision_model.head."},
  };
  return rename_prefixes(v4, siglip, source);
}

TensorMap qwen2_5_vl_names_to_v4(const TensorMap& tensors, const std::string& source) {
  static const std::vector<PrefixRule> rules = {
      {"model.language_model.", "model."},
      {"model.visual.", "visual."},
  };
  return rename_prefixes(tensors, rules, source);
}

TensorMap internvl_names_to_v4(const TensorMap& tensors, const std::string& source) {
  return rename_prefixes(tensors, llava_like_rules(), source);
}

}  // namespace ril::model
