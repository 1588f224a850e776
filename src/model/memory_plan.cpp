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
  out << "note: ril train --shard none|optimizer|gradients runs these modes for the student (learner ranks) and "
         "the discriminator (its ranks); with gradients the reduced gradients are kept as a slice after the "
         "backward pass, whose peak still holds them whole; ril sft runs none. --accumulate K divides the "
         "activations by K at the same update (--batch here is one micro-batch).\n";
  return out.str();
}

}  // namespace ril::model
