// Parameter names of Hugging Face checkpoints across transformers versions, mapped onto the names
// ril's modules are registered under (the layout of the hub checkpoints written by 4.x, which is
// also what ril saves: see the table below).
//
//   family       ril / 4.x hub names (saved)          4.52-4.57 names                5.x names (seen in 5.17)
//   LLaVA        language_model.model.*               model.language_model.*         language_model.model.*
//                language_model.lm_head.*             lm_head.*                      language_model.lm_head.*
//                vision_tower.vision_model.*          model.vision_tower.vision_model.*  vision_tower.{embeddings,
//                multi_modal_projector.*              model.multi_modal_projector.*      encoder,post_layernorm,head}.*
//   Qwen2.5-VL   model.*, lm_head.*, visual.*         model.language_model.*, lm_head.*, model.visual.*
//   InternVL     language_model.model.*, language_model.lm_head.*, vision_tower.*, multi_modal_projector.*
//                (the -hf checkpoints); model.language_model.*, lm_head.*, model.vision_tower.*,
//                model.multi_modal_projector.* (4.52+ in memory)
//
// Why save the 4.x hub layout: transformers 4.x loads it as it is, 4.52+ maps it through each
// class's `_checkpoint_conversion_mapping` (^language_model.model -> model.language_model, ...),
// and 5.x keeps loading it because every hub checkpoint of these families is in that layout
// (5.6+ also folds `vision_model.` of CLIP-like towers). The 5.x layout (no `vision_model.`
// level) does not load in 4.x.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ril/model/safetensors.h"

namespace ril::model {

// One prefix rule: a name starting with `from` gets `to` instead of that prefix.
struct PrefixRule {
  std::string from;
  std::string to;
};

// Applies the first matching rule to each name (names matching none pass through). Throws when two
// file names land on one name, naming `source` and both originals.
TensorMap rename_prefixes(const TensorMap& tensors, const std::vector<PrefixRule>& rules,
                          const std::string& source);

// 4.x, 4.52+ and 5.x LLaVA names -> ril's (4.x hub) names, SigLIP with the `vision_model.` level.
TensorMap llava_names_to_v4(const TensorMap& tensors, const std::string& source = "LLaVA weights");
// 4.x hub and 4.52+/5.x Qwen2.5-VL names -> model.*, lm_head.*, visual.*.
TensorMap qwen2_5_vl_names_to_v4(const TensorMap& tensors, const std::string& source = "Qwen2.5-VL weights");
// -hf and 4.52+/5.x InternVL names -> language_model.*, vision_tower.*, multi_modal_projector.*.
TensorMap internvl_names_to_v4(const TensorMap& tensors, const std::string& source = "InternVL weights");

}  // namespace ril::model
