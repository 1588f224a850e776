#include "ril/roles/optimizer_shards.h"

#include <torch/optim/adamw.h>

#include <algorithm>
#include <optional>

#include "ril/common/error.h"
#include "ril/io/checkpoint_schema.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_tensor.h"

namespace ril::roles {
namespace {

namespace names = io::checkpoint_names;

std::string child(const char* group, const char* name) { return std::string(group) + "/" + name; }

int64_t total_of(const GroupOptimizer& opt) {
  int64_t total = 0;
  for (const auto& p : *opt.params) total += p.numel();
  return total;
}

void check_one(const GroupOptimizer& opt) {
  RIL_CHECK((opt.whole == nullptr) != (opt.sharded == nullptr) && opt.params != nullptr,
            "optimizer state: exactly one of a whole and a sharded optimizer expected");
}

// [begin, end) of the flat buffer cut out of the shards the index in `file` lists.
dist::AdamWShard read_shards(const io::H5File& file, const OptimizerStateNames& n,
                             const std::function<std::string(int)>& part_path, int64_t total, int64_t begin,
                             int64_t end) {
  const int64_t stored_total = file.attr_int(n.index, "total");
  RIL_CHECK(stored_total == total, "checkpoint ", file.path(), ": its optimizer shards (/", n.index, ") cover ",
            stored_total, " parameter elements, the model has ", total);
  const std::vector<int64_t> world_ranks = file.read_vector<int64_t>(child(n.index, "world_ranks"));
  const int64_t step = file.attr_int(n.index, "step");
  std::vector<dist::AdamWShard> pieces;
  for (size_t i = 0; i < world_ranks.size(); ++i) {
    const std::string path = part_path(static_cast<int>(world_ranks[i]));
    const std::string where = cat("'", path, "' (rank ", i, " of ", world_ranks.size(), ")");
    auto read_from = [&](const io::H5File& f) {
      RIL_CHECK(f.exists(n.shard), "optimizer shard ", where, " is missing: the file holds no /", n.shard,
                " (its index /", n.index, " is in ", file.path(), ")");
      dist::AdamWShard s;
      s.begin = f.attr_int(n.shard, "begin");
      s.end = f.attr_int(n.shard, "end");
      s.total = f.attr_int(n.shard, "total");
      s.step = f.attr_int(n.shard, "step");
      s.source = where;
      RIL_CHECK(s.step == step, "optimizer shard ", where, " is at step ", s.step, ", its index at ", step);
      if (std::max(s.begin, begin) < std::min(s.end, end)) {  // read only the shards this block needs
        s.exp_avg = io::read_tensor(f, child(n.shard, "exp_avg")).to(at::kFloat).reshape({-1});
        s.exp_avg_sq = io::read_tensor(f, child(n.shard, "exp_avg_sq")).to(at::kFloat).reshape({-1});
      } else {
        s.begin = s.end = 0;  // an empty piece: covers nothing
        s.exp_avg = s.exp_avg_sq = at::zeros({0}, at::kFloat);
      }
      pieces.push_back(s);
    };
    if (path == file.path()) {
      read_from(file);
      continue;
    }
    std::optional<io::H5File> part;
    try {
      part.emplace(io::H5File::open(path, io::kCheckpointRankKind));
    } catch (const Error& e) {
      throw Error(cat("cannot open optimizer shard ", where, ": ", e.what()));
    }
    read_from(*part);
  }
  return dist::cut_shards(pieces, total, begin, end);
}

}  // namespace

const OptimizerStateNames kStudentOptimizerNames{names::kOptimizer, names::kOptimizerShards, names::kOptimizerShard};
const OptimizerStateNames kDiscOptimizerNames{names::kDiscOptimizer, names::kDiscOptimizerShards,
                                              names::kDiscOptimizerShard};

std::vector<at::Tensor> adamw_state_tensors(const torch::optim::AdamW* whole, const dist::ShardedAdamW* sharded) {
  std::vector<at::Tensor> out;
  if (whole != nullptr) {
    for (const auto& [key, state] : whole->state()) {
      const auto& s = static_cast<const torch::optim::AdamWParamState&>(*state);
      out.push_back(s.exp_avg());
      out.push_back(s.exp_avg_sq());
      out.push_back(s.max_exp_avg_sq());
    }
  }
  if (sharded != nullptr) {
    for (const at::Tensor& t : sharded->state_tensors()) out.push_back(t);
  }
  return out;
}

void make_group_adamw(ShardMode mode, double lr, double weight_decay, dist::Communicator& group,
                      const std::vector<at::Tensor>& params, std::unique_ptr<torch::optim::AdamW>& whole,
                      std::unique_ptr<dist::ShardedAdamW>& sharded) {
  if (mode == ShardMode::kNone) {
    whole = std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(lr).weight_decay(weight_decay));
    return;
  }
  dist::ShardedAdamWOptions so;
  so.mode = mode;
  so.lr = lr;
  so.weight_decay = weight_decay;
  sharded = std::make_unique<dist::ShardedAdamW>(group, params, so);
}

void save_optimizer_state(io::H5File& file, const OptimizerStateNames& n, const GroupOptimizer& opt,
                          const std::vector<int>& world_ranks) {
  check_one(opt);
  if (opt.whole) {
    io::save_adamw(file, n.whole, *opt.whole, opt.named);
    return;
  }
  file.create_group(n.index);
  file.set_attr(n.index, "total", opt.sharded->numel());
  file.set_attr(n.index, "step", opt.sharded->step());
  file.set_attr(n.index, "ranks", static_cast<int64_t>(world_ranks.size()));
  file.write_vector(child(n.index, "world_ranks"), std::vector<int64_t>(world_ranks.begin(), world_ranks.end()));
}

void save_optimizer_shard(io::H5File& part, const OptimizerStateNames& n, const GroupOptimizer& opt) {
  check_one(opt);
  if (!opt.sharded) return;
  const dist::AdamWShard s = opt.sharded->shard();
  part.create_group(n.shard);
  part.set_attr(n.shard, "begin", s.begin);
  part.set_attr(n.shard, "end", s.end);
  part.set_attr(n.shard, "total", s.total);
  part.set_attr(n.shard, "step", s.step);
  io::DatasetOptions options;
  options.compression = 0;
  io::write_tensor(part, child(n.shard, "exp_avg"), s.exp_avg.contiguous(), options);
  io::write_tensor(part, child(n.shard, "exp_avg_sq"), s.exp_avg_sq.contiguous(), options);
}

void load_optimizer_state(const io::H5File& file, const OptimizerStateNames& n, const GroupOptimizer& opt,
                          const std::function<std::string(int)>& part_path) {
  check_one(opt);
  const bool sharded_file = file.exists(n.index);
  const int64_t total = total_of(opt);
  if (opt.whole && !sharded_file) {
    io::load_adamw(file, n.whole, *opt.whole, opt.named);
  } else if (opt.whole) {  // the shards of a --shard run, whole again
    const dist::AdamWShard all = read_shards(file, n, part_path, total, 0, total);
    io::set_flat_adamw_state(*opt.whole, *opt.params, io::FlatAdamWState{all.step, all.exp_avg, all.exp_avg_sq});
  } else if (sharded_file) {  // shards of any count, re-cut to this rank's block
    const auto [begin, end] = opt.sharded->range();
    opt.sharded->load({read_shards(file, n, part_path, total, begin, end)});
  } else {  // a --shard none state, cut to this rank's block (through a temporary whole AdamW)
    torch::optim::AdamW whole(*opt.params, torch::optim::AdamWOptions(opt.sharded->lr())
                                               .weight_decay(opt.sharded->options().weight_decay));
    io::load_adamw(file, n.whole, whole, opt.named);
    const io::FlatAdamWState flat = io::flat_adamw_state(whole, *opt.params);
    dist::AdamWShard piece;
    piece.end = piece.total = total;
    piece.step = flat.step;
    piece.exp_avg = flat.exp_avg;
    piece.exp_avg_sq = flat.exp_avg_sq;
    piece.source = file.path();
    opt.sharded->load({piece});
  }
}

}  // namespace ril::roles
