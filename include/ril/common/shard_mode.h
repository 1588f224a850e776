// How the learner (and discriminator) group splits its training state (`--shard`, issue 18):
//   none       every rank holds all gradients and both AdamW moments (plain data parallel);
//   optimizer  (ZeRO-1) gradients are all-reduced as with none, each rank updates its slice of
//              the flat parameter buffer and holds only that slice's moments;
//   gradients  (ZeRO-2) as optimizer, but the gradients are reduce-scattered: a rank keeps only
//              its slice of the reduced gradient.
// The one home of the names; dist/sharded_optimizer.h runs the modes, model/memory_plan.h
// sizes them. Which ranks call: any; pure.
#pragma once

#include <string>

namespace ril {

enum class ShardMode { kNone, kOptimizer, kGradients };

// "none" | "optimizer" | "gradients"; ConfigError naming `option` and the value otherwise.
ShardMode parse_shard_mode(const std::string& text, const std::string& option = "--shard");
const char* shard_mode_name(ShardMode mode);

}  // namespace ril
