// AdamW state in a `ril train` checkpoint, whole (--shard none) or in shards (--shard
// optimizer|gradients; dist/sharded_optimizer.h), written so that a run resumes at another rank
// count and either mode. For the student (learner group) and D (discriminator group) alike:
//   index file  /<index>   group; attrs total (elements of the flat parameter buffer), step,
//                          ranks; int64 dataset world_ranks: group rank i's shard is in the rank
//                          part of world rank world_ranks[i] (the main file itself when the
//                          writing job had one rank)
//   rank part   /<shard>   group; attrs begin, end, total, step; float32 datasets exp_avg,
//                          exp_avg_sq of the flat range [begin, end)
//   whole       /<whole>   io::save_adamw's layout (module_state.h), as before --shard
// The index file is the main file for the student and the D root's part for D
// (checkpoint_schema.h names). Each group rank writes its own shard into its own rank part (in
// parallel, atomic as every part is: io/checkpoint_store.h). A reader gets its block cut out of
// whatever shards cover it (dist::cut_shards): 4 writers and 2 or 3 readers, shards read by a
// --shard none run (block = everything), a whole state read by a sharded run.
// Which ranks call: the members of the group (each reads only the files its block needs).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ril/dist/sharded_optimizer.h"
#include "ril/io/h5_file.h"
#include "ril/io/module_state.h"

namespace torch::optim {
class AdamW;
}  // namespace torch::optim

namespace ril::roles {

struct OptimizerStateNames {
  const char* whole;  // io::save_adamw group (--shard none)
  const char* index;  // the shards' index
  const char* shard;  // one rank's shard
};
extern const OptimizerStateNames kStudentOptimizerNames;
extern const OptimizerStateNames kDiscOptimizerNames;

// The optimizer of a group: exactly one of the two is set.
struct GroupOptimizer {
  torch::optim::AdamW* whole = nullptr;
  dist::ShardedAdamW* sharded = nullptr;
  const std::vector<at::Tensor>* params = nullptr;  // in the flat buffer's order
  io::NamedTensors named;                           // the same parameters, by name
};

// The AdamW of a group: torch's for --shard none (into `whole`), else sharded over `group`
// (into `sharded`), with `lr` and `weight_decay` and AdamW's default betas and eps.
void make_group_adamw(ShardMode mode, double lr, double weight_decay, dist::Communicator& group,
                      const std::vector<at::Tensor>& params, std::unique_ptr<torch::optim::AdamW>& whole,
                      std::unique_ptr<dist::ShardedAdamW>& sharded);

// Every state tensor of a group's AdamW made by make_group_adamw (torch's exp_avg, exp_avg_sq and
// max_exp_avg_sq per parameter, or this rank's ShardedAdamW shard): what --offload puts away.
std::vector<at::Tensor> adamw_state_tensors(const torch::optim::AdamW* whole, const dist::ShardedAdamW* sharded);

// On the group's root, into the index file: the whole state, or the index of the shards
// (`world_ranks`: the world rank of each group rank, in order).
void save_optimizer_state(io::H5File& file, const OptimizerStateNames& names, const GroupOptimizer& opt,
                          const std::vector<int>& world_ranks);
// On every group rank, into its own rank part: its shard (nothing with --shard none).
void save_optimizer_shard(io::H5File& part, const OptimizerStateNames& names, const GroupOptimizer& opt);
// On every group rank: its state from `file` (the index file of the writer), whole or shards;
// `part_path(w)` names the rank part of world rank w of the writing job. Throws ril::Error
// naming the file when a listed shard is missing, damaged or does not fit.
void load_optimizer_state(const io::H5File& file, const OptimizerStateNames& names, const GroupOptimizer& opt,
                          const std::function<std::string(int)>& part_path);

}  // namespace ril::roles
