#include "ril/jobs/smoke_job.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <sys/stat.h>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/stopwatch.h"
#include "ril/dist/host_messages.h"
#include "ril/dist/sharding.h"
#include "ril/dist/mpi_context.h"
#include "ril/dist/weight_sync.h"
#include "ril/io/atomic_file.h"
#include "ril/io/h5_file.h"
#include "ril/io/h5_tensor.h"

namespace ril::jobs {
namespace {

using dist::Channel;
using dist::Role;

enum Exchange { kWeights, kRollouts, kTeacher, kDiscGroup, kScores, kLearner, kHdf5, kExchangeCount };
constexpr const char* kExchangeNames[kExchangeCount] = {
    "weights    learner -> rollout+discriminator", "rollouts   rollout -> discriminator+learner",
    "teacher    teacher -> discriminator+learner", "disc group bcast batch + gather scores",
    "scores     discriminator -> learner",         "learner    bcast batch + allreduce grad",
    "hdf5       write + fsync + rename + read"};

at::Generator generator_for(uint64_t seed, uint64_t stream) {
  return at::detail::createCPUGenerator(seed * 1000003ull + stream);
}

// A Qwen2-shaped parameter set (many small tensors and a few large ones, two dtypes), filled
// from (seed, version) so that every receiver can recompute what it must have received.
dist::NamedTensors make_parameters(const SmokeConfig& s, const at::Device& device) {
  const int64_t h = s.hidden, kv = std::max<int64_t>(8, h / 4), inter = 2 * h;
  dist::NamedTensors params;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, at::ScalarType dtype = at::kFloat) {
    params.emplace_back(name, at::zeros(shape, at::TensorOptions().dtype(dtype).device(device)));
  };
  add("model.embed_tokens.weight", {s.vocab, h});
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = cat("model.layers.", l, ".");
    add(p + "input_layernorm.weight", {h}, at::kBFloat16);
    add(p + "self_attn.q_proj.weight", {h, h});
    add(p + "self_attn.q_proj.bias", {h});
    add(p + "self_attn.k_proj.weight", {kv, h});
    add(p + "self_attn.k_proj.bias", {kv});
    add(p + "self_attn.v_proj.weight", {kv, h});
    add(p + "self_attn.v_proj.bias", {kv});
    add(p + "self_attn.o_proj.weight", {h, h});
    add(p + "post_attention_layernorm.weight", {h}, at::kBFloat16);
    add(p + "mlp.gate_proj.weight", {inter, h});
    add(p + "mlp.up_proj.weight", {inter, h});
    add(p + "mlp.down_proj.weight", {h, inter});
  }
  add("model.norm.weight", {h}, at::kBFloat16);
  return params;
}

void fill_parameters(dist::NamedTensors& params, uint64_t seed, int64_t version) {
  at::Generator gen = generator_for(seed, 1000 + static_cast<uint64_t>(version));
  for (auto& [name, t] : params) {
    t.copy_(at::randn(t.sizes(), gen, at::TensorOptions().dtype(at::kFloat)).to(t.scalar_type()));
  }
}

struct Responses {
  at::Tensor tokens;    // [B, T]
  at::Tensor logprobs;  // [B, T] float32 (rollouts only)
  at::Tensor mask;      // [B, T] bool
};

// What rollout rank `index` of its group produces in round `round`.
Responses make_rollouts(const SmokeConfig& s, uint64_t seed, int64_t round, int index) {
  at::Generator gen = generator_for(seed, 2000 + static_cast<uint64_t>(round) * 64 + index);
  Responses r;
  r.tokens = at::randint(s.vocab, {s.batch, s.seq_len}, gen, at::TensorOptions().dtype(at::kLong));
  r.logprobs = -at::rand({s.batch, s.seq_len}, gen, at::TensorOptions().dtype(at::kFloat));
  r.mask = at::rand({s.batch, s.seq_len}, gen) > 0.1;
  return r;
}

at::Tensor make_teacher_tokens(const SmokeConfig& s, uint64_t seed, int64_t round, int index) {
  at::Generator gen = generator_for(seed, 3000 + static_cast<uint64_t>(round) * 64 + index);
  return at::randint(s.vocab, {s.batch, s.seq_len}, gen, at::TensorOptions().dtype(at::kLong)).to(at::kInt);
}

// A discriminator stand-in: a fixed function of the tokens, so the learner can recompute it.
at::Tensor score(const at::Tensor& tokens) {
  return at::sigmoid((tokens.to(at::kLong).sum(1).remainder(97).to(at::kFloat) / 97.0f) * 4.0f - 2.0f);
}

// Stacks one rank's piece per member into the role's full batch, in world-rank order.
at::Tensor cat_pieces(const std::vector<at::Tensor>& pieces) {
  std::vector<at::Tensor> non_empty;
  for (const auto& p : pieces) {
    if (p.numel() > 0) non_empty.push_back(p);
  }
  return at::cat(non_empty, 0);
}

void require(bool ok, const std::string& what) {
  if (!ok) throw Error(cat("smoke check failed: ", what, " [rank ", error_rank(), "]"));
}


// The output file; its directory (the run directory by default) is created with its parents.
std::string default_output(const Config& config) {
  const std::string out = config.smoke.output.empty() ? config.common.run_dir + "/smoke.h5" : config.smoke.output;
  const std::filesystem::path dir = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  RIL_CHECK(!ec, "ril smoke: cannot create the directory ", dir.string(), " for ", out, ": ", ec.message());
  return out;
}

}  // namespace

void run_smoke_job(const dist::RankGroups& groups, const Config& config) {
  const SmokeConfig& s = config.smoke;
  const uint64_t seed = config.common.seed;
  const dist::RoleMap& map = groups.role_map();
  const int me = groups.world_rank();
  const at::Device device = groups.device();
  const int64_t rounds = s.iterations;
  std::vector<double> seconds(static_cast<size_t>(kExchangeCount * rounds), 0.0);
  std::vector<double> bytes(kExchangeCount, 0.0);
  auto record = [&](Exchange e, int64_t round, double t) { seconds[e * rounds + round] += t; };

  // Every rank of the weights channel holds a copy of the parameters.
  dist::Communicator* weights_channel = groups.channel(Channel::kWeights);
  dist::NamedTensors params;
  std::unique_ptr<dist::WeightSync> sync;
  if (weights_channel) {
    params = make_parameters(s, device);
    dist::WeightSyncOptions sync_options;
    sync_options.bucket_bytes = s.bucket_mb << 20;
    sync = std::make_unique<dist::WeightSync>(*weights_channel, groups.channel_root(Channel::kWeights, Role::kLearner),
                                              params, sync_options);
  }
  const std::string output = groups.is_metrics_rank() ? default_output(config) : "";

  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t version = round + 1;
    // 1. weights
    if (sync) {
      const bool is_sender = me == map.root(Role::kLearner);
      if (is_sender) fill_parameters(params, seed, version);
      weights_channel->barrier();  // time the exchange, not the other ranks' work before it
      const dist::WeightSyncStats stats = sync->sync(version);
      record(kWeights, round, stats.seconds);
      bytes[kWeights] = static_cast<double>(stats.bytes);
      if (!is_sender) {
        dist::NamedTensors expected = make_parameters(s, at::kCPU);
        fill_parameters(expected, seed, version);
        for (size_t i = 0; i < params.size(); ++i) {
          require(at::equal(params[i].second.cpu(), expected[i].second),
                  cat("weights '", params[i].first, "' differ from the learner's after sync v", version));
        }
        require(stats.version == version, cat("weight version ", stats.version, " != ", version));
      }
    }

    // 2. rollouts -> discriminator root and learner root. Members without the role add nothing.
    Responses rollouts_all;
    if (auto* ch = groups.channel(Channel::kRollouts)) {
      ch->barrier();
      const Stopwatch t;
      const auto& ranks = map.ranks(Role::kRollout);
      const auto pos = std::find(ranks.begin(), ranks.end(), me);
      Responses mine;
      if (pos != ranks.end()) {
        mine = make_rollouts(s, seed, round, static_cast<int>(pos - ranks.begin()));
      } else {
        mine.tokens = at::empty({0, s.seq_len}, at::kLong);
        mine.logprobs = at::empty({0, s.seq_len}, at::kFloat);
        mine.mask = at::empty({0, s.seq_len}, at::kBool);
      }
      for (Role receiver : {Role::kDiscriminator, Role::kLearner}) {
        const int root = groups.channel_root(Channel::kRollouts, receiver);
        auto tokens = ch->gather(mine.tokens.to(device), root);
        auto logprobs = ch->gather(mine.logprobs.to(device), root);
        auto mask = ch->gather(mine.mask.to(device), root);
        if (ch->rank() == root) {
          rollouts_all = {cat_pieces(tokens).cpu(), cat_pieces(logprobs).cpu(), cat_pieces(mask).cpu()};
        }
      }
      record(kRollouts, round, t.seconds());
      if (rollouts_all.tokens.defined()) {
        for (size_t i = 0; i < ranks.size(); ++i) {
          const Responses expected = make_rollouts(s, seed, round, static_cast<int>(i));
          const int64_t b = static_cast<int64_t>(i) * s.batch;
          require(at::equal(rollouts_all.tokens.narrow(0, b, s.batch), expected.tokens) &&
                      at::equal(rollouts_all.logprobs.narrow(0, b, s.batch), expected.logprobs) &&
                      at::equal(rollouts_all.mask.narrow(0, b, s.batch), expected.mask),
                  cat("rollouts of rollout rank ", ranks[i], " arrived changed"));
        }
      }
      bytes[kRollouts] = static_cast<double>(ranks.size() * s.batch * s.seq_len * (8 + 4 + 1) * 2);
    }

    // 3. teacher responses -> discriminator root and learner root.
    at::Tensor teacher_all;
    if (auto* ch = groups.channel(Channel::kTeacherResponses)) {
      ch->barrier();
      const Stopwatch t;
      const auto& ranks = map.ranks(Role::kTeacher);
      const auto pos = std::find(ranks.begin(), ranks.end(), me);
      at::Tensor mine = pos != ranks.end() ? make_teacher_tokens(s, seed, round, static_cast<int>(pos - ranks.begin()))
                                           : at::empty({0, s.seq_len}, at::kInt);
      for (Role receiver : {Role::kDiscriminator, Role::kLearner}) {
        const int root = groups.channel_root(Channel::kTeacherResponses, receiver);
        auto pieces = ch->gather(mine.to(device), root);
        if (ch->rank() == root) teacher_all = cat_pieces(pieces).cpu();
      }
      record(kTeacher, round, t.seconds());
      if (teacher_all.defined()) {
        for (size_t i = 0; i < ranks.size(); ++i) {
          require(at::equal(teacher_all.narrow(0, static_cast<int64_t>(i) * s.batch, s.batch),
                            make_teacher_tokens(s, seed, round, static_cast<int>(i))),
                  cat("teacher responses of teacher rank ", ranks[i], " arrived changed"));
        }
      }
      bytes[kTeacher] = static_cast<double>(ranks.size() * s.batch * s.seq_len * 4 * 2);
    }

    const int64_t n_rollout = static_cast<int64_t>(map.ranks(Role::kRollout).size()) * s.batch;
    const int64_t n_teacher = static_cast<int64_t>(map.ranks(Role::kTeacher).size()) * s.batch;
    const int64_t n_total = n_rollout + n_teacher;

    // 4. discriminator group: broadcast the 2G batch, score slices, gather the scores.
    at::Tensor scores;
    if (auto* g = groups.group(Role::kDiscriminator)) {
      g->barrier();
      const Stopwatch t;
      at::Tensor batch = g->rank() == 0 ? at::cat({rollouts_all.tokens, teacher_all.to(at::kLong)}, 0).to(device)
                                        : at::empty({n_total, s.seq_len}, at::TensorOptions().dtype(at::kLong).device(device));
      g->broadcast(batch, 0);
      const auto [begin, end] = dist::block_range(n_total, g->rank(), g->size());
      auto pieces = g->gather(score(batch.narrow(0, begin, end - begin)), 0);
      if (g->rank() == 0) scores = at::cat(pieces, 0).cpu();
      record(kDiscGroup, round, t.seconds());
      bytes[kDiscGroup] = static_cast<double>(n_total * s.seq_len * 8 * (g->size() - 1) + n_total * 4);
    }

    // 5. scores -> learner root.
    at::Tensor learner_scores;
    if (auto* ch = groups.channel(Channel::kScores)) {
      ch->barrier();
      const Stopwatch t;
      const int from = groups.channel_root(Channel::kScores, Role::kDiscriminator);
      const int to = groups.channel_root(Channel::kScores, Role::kLearner);
      // The channel's members are the two roots, and both know the size: a broadcast carries it.
      at::Tensor carried = ch->rank() == from ? scores.to(device)
                                              : at::empty({n_total}, at::TensorOptions().dtype(at::kFloat).device(device));
      ch->broadcast(carried, from);
      if (ch->rank() == to) learner_scores = carried.cpu();
      record(kScores, round, t.seconds());
      bytes[kScores] = static_cast<double>(n_total * 4);
    }

    // 6. learner group: broadcast the batch, allreduce a gradient-like tensor.
    if (auto* g = groups.group(Role::kLearner)) {
      g->barrier();
      const Stopwatch t;
      at::Tensor batch = g->rank() == 0 ? at::cat({rollouts_all.tokens, teacher_all.to(at::kLong)}, 0).to(device)
                                        : at::empty({n_total, s.seq_len}, at::TensorOptions().dtype(at::kLong).device(device));
      g->broadcast(batch, 0);
      // Exact integer reduction: every learner's token sum times (rank+1), summed.
      at::Tensor grad = batch.sum(0) * (g->rank() + 1);
      g->allreduce(grad, dist::ReduceOp::kSum);
      const int64_t n = g->size();
      require(at::equal(grad.cpu(), batch.sum(0).cpu() * (n * (n + 1) / 2)), "learner allreduce result is wrong");
      record(kLearner, round, t.seconds());
      bytes[kLearner] = static_cast<double>(n_total * s.seq_len * 8 * (n - 1) + s.seq_len * 8 * 2 * (n - 1));
      if (g->rank() == 0) {
        require(at::equal(learner_scores, score(batch.cpu())),
                "scores received from the discriminator differ from the learner's recomputation");
      }
    }

    // 7. HDF5 round trip on the learner root.
    if (groups.is_metrics_rank()) {
      const Stopwatch t;
      {
        io::AtomicFile atomic(output);
        {
          io::H5File file = io::H5File::create(atomic.temp_path(), "smoke", /*overwrite=*/true);
          io::DatasetOptions grow;
          grow.extendable = true;
          io::write_tensor(file, "rollouts/tokens", rollouts_all.tokens, grow);
          io::write_tensor(file, "rollouts/logprobs", rollouts_all.logprobs);
          io::write_tensor(file, "rollouts/mask", rollouts_all.mask);
          io::write_tensor(file, "teacher/tokens", teacher_all);
          io::write_tensor(file, "scores", learner_scores);
          io::DatasetOptions raw;  // random weights do not compress: store them contiguous
          raw.compression = 0;
          for (const auto& [name, tensor] : params) io::write_tensor(file, "weights/" + name, tensor, raw);
          file.write_text("notes", {cat("round ", round), "non-ASCII: größer, 大きい, 🙂", ""});
          file.set_attr("/", "round", round);
          file.set_attr("/", "layout", map.spec());
          file.flush();
        }
        atomic.commit();
      }
      const io::H5File file = io::H5File::open(output, "smoke");
      require(at::equal(io::read_tensor(file, "rollouts/tokens"), rollouts_all.tokens) &&
                  at::equal(io::read_tensor(file, "rollouts/logprobs"), rollouts_all.logprobs) &&
                  at::equal(io::read_tensor(file, "rollouts/mask"), rollouts_all.mask) &&
                  at::equal(io::read_tensor(file, "teacher/tokens"), teacher_all) &&
                  at::equal(io::read_tensor(file, "scores"), learner_scores),
              cat("tensors read back from '", output, "' differ from those written"));
      for (const auto& [name, tensor] : params) {
        require(at::equal(io::read_tensor(file, "weights/" + name), tensor.cpu()),
                cat("weight '", name, "' read back from '", output, "' differs"));
      }
      require(file.read_text("notes")[1] == "non-ASCII: größer, 大きい, 🙂", "text read back differs");
      record(kHdf5, round, t.seconds());
      struct stat st {};
      ::stat(output.c_str(), &st);
      bytes[kHdf5] = static_cast<double>(st.st_size);
    }
  }

  // Each exchange's time is the slowest rank's; report the median over rounds.
  std::vector<double> slowest(seconds.begin(), seconds.end());
  if (auto* world = groups.channel(Channel::kWorld)) {
    slowest = dist::allreduce_values(*world, slowest, dist::ReduceOp::kMax);
    const std::vector<double> most = dist::allreduce_values(*world, {bytes.begin(), bytes.end()}, dist::ReduceOp::kMax);
    std::copy(most.begin(), most.end(), bytes.begin());
  }
  if (groups.is_metrics_rank()) {
    std::ostringstream table;
    table << "smoke: " << rounds << " round(s), all checks passed; per exchange (slowest rank, median over rounds):\n";
    table << "  exchange                                     bytes/round     ms     MB/s  backend\n";
    for (int e = 0; e < kExchangeCount; ++e) {
      std::vector<double> v(slowest.begin() + e * rounds, slowest.begin() + (e + 1) * rounds);
      std::sort(v.begin(), v.end());
      const double median = v[v.size() / 2];
      const char* backend = "";
      switch (e) {
        case kWeights: backend = groups.channel(Channel::kWeights) ? groups.channel(Channel::kWeights)->backend() : ""; break;
        case kRollouts: backend = groups.channel(Channel::kRollouts)->backend(); break;
        case kTeacher: backend = groups.channel(Channel::kTeacherResponses)->backend(); break;
        case kDiscGroup: backend = "group"; break;
        case kScores: backend = groups.channel(Channel::kScores)->backend(); break;
        case kLearner: backend = groups.group(Role::kLearner)->backend(); break;
        case kHdf5: backend = "hdf5"; break;
      }
      table << "  " << std::left << std::setw(45) << kExchangeNames[e] << std::right << std::setw(11)
            << static_cast<int64_t>(bytes[e]) << std::setw(8) << std::fixed << std::setprecision(2) << median * 1e3
            << std::setw(9) << std::setprecision(1) << (median > 0 ? bytes[e] / median / 1e6 : 0.0) << "  " << backend
            << "\n";
    }
    log_info("smoke", table.str());
    log_info("smoke", "wrote and re-read ", output);
  }
}

}  // namespace ril::jobs
