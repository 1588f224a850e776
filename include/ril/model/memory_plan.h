// Memory planning (`ril info --model PRESET_OR_DIR --learners N --shard MODE`): the bytes one
// learner rank needs to train a model, from its config alone (model_size.h), for the three
// data-parallel layouts of issue 18, which `ril train --shard` runs for the student and the
// discriminator (dist/sharded_optimizer.h; ril sft holds everything, --shard none).
//
// Per learner rank, P = parameters, b = bytes of --dtype, N = learner ranks, ceil(P / N) = one
// rank's slice of the flat parameter buffer:
//   weights      P * b                               (every rank holds the whole model)
//   gradients    P * b, or ceil(P / N) * b            (gradients: reduce-scattered, own slice)
//   optimizer    P * (8 + m), or ceil(P / N) * (8 + m) (optimizer and gradients modes)
//                AdamW's two float32 moments (8 B) and, when b < 4, a float32 master copy (m = 4)
//   activations  what autograd keeps for backward, text decoder only, per micro-batch of
//                B sequences of T tokens (image tokens count in T):
//                  per layer and token, plain:  4d + 3q + 3kv + 4i elements of b bytes
//                    (layer input, the two norms' outputs, q/k/v and the rotated q/k, the
//                    attention output, the residual, SwiGLU's gate, up, silu(gate), product;
//                    a fused attention kernel is assumed: no T x T scores are kept)
//                  checkpointed: the layer input d per layer, plus one layer's full set during
//                    its recomputation
//                  logits: V * (b + 8) per token (logits, float32 log-probs, their gradient)
//                An estimate (allocator slack, the vision tower and temporary buffers are not
//                counted); weights, gradients and optimizer are exact for the config.
// Which ranks call: any; pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ril/common/shard_mode.h"
#include "ril/model/model_config.h"

namespace ril::model {

// The modes and their names live in common/shard_mode.h (the sharded optimizer runs them too).
using ril::parse_shard_mode;
using ril::shard_mode_name;
using ril::ShardMode;

struct MemoryPlanOptions {
  int64_t learners = 1;               // N >= 1
  ShardMode shard = ShardMode::kNone;
  int64_t batch = 1;                  // sequences per micro-batch on one rank
  int64_t seq_len = 1024;             // tokens per sequence
  std::string dtype = "bfloat16";     // weights, gradients and activations (model_size.h dtype_bytes)
  bool checkpoint_activations = false;
};

struct MemoryPlan {
  int64_t params = 0;
  int64_t weights = 0, gradients = 0, optimizer = 0, activations = 0;  // bytes per learner rank
  int64_t total() const { return weights + gradients + optimizer + activations; }
};

// Throws ConfigError for learners < 1, batch < 1, seq_len < 1 or an unknown dtype.
MemoryPlan plan_memory(const ModelConfig& config, const MemoryPlanOptions& options);

// The report: one line per mode in `modes` (GiB per rank, and whether the total fits in
// `device_gib`), the settings, and a note on which commands run which mode.
std::string describe_memory_plan(const ModelConfig& config, const std::string& name, const MemoryPlanOptions& options,
                                 const std::vector<ShardMode>& modes, double device_gib = 80.0);

}  // namespace ril::model
