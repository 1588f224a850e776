#include "ril/model/memory_plan.h"

#include <cstdio>
#include <sstream>

#include "ril/common/error.h"
#include "ril/model/model_size.h"

namespace ril::model {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(bytes) / kGiB);
  return buf;
}

std::string padded(const std::string& text, size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

}  // namespace

ShardMode parse_shard_mode(const std::string& text) {
  if (text == "none") return ShardMode::kNone;
  if (text == "optimizer") return ShardMode::kOptimizer;
  if (text == "gradients") return ShardMode::kGradients;
  throw ConfigError(cat("--shard must be none, optimizer or gradients, got '", text, "'"));
}

const char* shard_mode_name(ShardMode mode) {
  switch (mode) {
    case ShardMode::kNone: return "none";
    case ShardMode::kOptimizer: return "optimizer";
    case ShardMode::kGradients: return "gradients";
  }
  return "?";
}

MemoryPlan plan_memory(const ModelConfig& config, const MemoryPlanOptions& o) {
  RIL_CONFIG_CHECK(o.learners >= 1, "--learners must be at least 1, got ", o.learners);
  RIL_CONFIG_CHECK(o.batch >= 1 && o.seq_len >= 1, "--batch and --seq-len must be at least 1, got ", o.batch, " and ",
                   o.seq_len);
  const int64_t b = dtype_bytes(o.dtype);
  const int64_t master = b < 4 ? 4 : 0;
  MemoryPlan p;
  p.params = model_size(config).total_params();
  const int64_t slice = (p.params + o.learners - 1) / o.learners;  // one rank's share of the flat buffer
  p.weights = p.params * b;
  p.gradients = (o.shard == ShardMode::kGradients ? slice : p.params) * b;
  p.optimizer = (o.shard == ShardMode::kNone ? p.params : slice) * (8 + master);

  const Qwen2Config& t = config.text();
  const int64_t d = t.hidden_size, q = t.num_attention_heads * t.resolved_head_dim(),
                kv = t.num_key_value_heads * t.resolved_head_dim(), i = t.intermediate_size;
  const int64_t tokens = o.batch * o.seq_len;
  const int64_t layer = 4 * d + 3 * q + 3 * kv + 4 * i;  // elements per token of one layer, plain
  const int64_t decoder = o.checkpoint_activations ? t.num_hidden_layers * d + layer : t.num_hidden_layers * layer;
  p.activations = tokens * (decoder * b + t.vocab_size * (b + 8));
  return p;
}

std::string describe_memory_plan(const ModelConfig& config, const std::string& name, const MemoryPlanOptions& options,
                                 const std::vector<ShardMode>& modes, double device_gib) {
  std::ostringstream out;
  const int64_t b = dtype_bytes(options.dtype);
  out << "memory plan: " << name << " (" << model_kind_name(config.kind) << "), " << model_size(config).total_params()
      << " parameters; " << options.learners << " learner rank(s); " << options.dtype << " weights, gradients and "
      << "activations, AdamW moments in float32" << (b < 4 ? " with a float32 master copy" : "") << "\n"
      << "activations: " << options.batch << " x " << options.seq_len << " tokens per micro-batch, text decoder, "
      << (options.checkpoint_activations ? "--checkpoint-activations" : "no checkpointing") << " (an estimate)\n"
      << "GiB per learner rank:\n";
  const std::vector<std::string> head = {"shard", "weights", "gradients", "optimizer", "activations", "total"};
  const std::vector<size_t> width = {9, 9, 10, 10, 12, 9};
  for (size_t k = 0; k < head.size(); ++k) out << (k ? " " : "  ") << padded(head[k], width[k]);
  out << "  fits " << device_gib << " GiB\n";
  for (ShardMode mode : modes) {
    MemoryPlanOptions o = options;
    o.shard = mode;
    const MemoryPlan p = plan_memory(config, o);
    const std::vector<std::string> row = {shard_mode_name(mode), gib(p.weights),     gib(p.gradients),
                                          gib(p.optimizer),     gib(p.activations), gib(p.total())};
    for (size_t k = 0; k < row.size(); ++k) out << (k ? " " : "  ") << padded(row[k], width[k]);
    out << "  " << (static_cast<double>(p.total()) <= device_gib * kGiB ? "yes" : "no") << "\n";
  }
  out << "note: ril sft and ril train hold the whole model, its gradients and AdamW state on every learner rank "
         "(--shard none) today; optimizer (ZeRO-1) and gradients (ZeRO-2) are what those modes would need once "
         "they are implemented (issue 18). --accumulate K divides the activations by K at the same update "
         "(--batch here is one micro-batch).\n";
  return out.str();
}

}  // namespace ril::model
