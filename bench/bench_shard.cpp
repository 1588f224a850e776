// bench_shard: the learner's step under `--shard none | optimizer | gradients` (issue 18), under
// mpirun with N ranks as N data-parallel learners. One step on every rank: its own random token
// ids [B, T + 1], forward, cross-entropy, backward, then
//   none       allreduce_gradients (sum) + clip_grad_norm_(1) + torch::optim::AdamW (the learner's
//              --shard none path)
//   optimizer  dist::ShardedAdamW, ZeRO-1 (allreduce, update the own block, all-gather)
//   gradients  dist::ShardedAdamW, ZeRO-2 (reduce-scatter, update the own block, all-gather)
// Reported per rank (rank 0 prints them all): median step time, its optimizer part (everything
// after backward), the AdamW moments this rank holds, and peak RSS (VmHWM, reset after the set-up
// so it covers the steps: weights + the backward's gradients + moments + activations).
#include <torch/torch.h>

#include <boost/program_options.hpp>

#include <iostream>

#include "bench_common.h"
#include "ril/dist/communicator_factory.h"
#include "ril/dist/gradient_sync.h"
#include "ril/dist/mpi_context.h"
#include "ril/dist/sharded_optimizer.h"
#include "ril/model/model_config.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/sampler.h"

namespace po = boost::program_options;
using namespace ril;
using namespace ril::bench;

namespace {

struct ShardBenchOptions {
  std::string preset = "qwen2-0.5b";
  int64_t layers = 2;  // 0: the preset's
  int64_t seq = 64;
  int64_t batch = 1;
  int steps = 3;
  int warmup = 1;
  std::string shard = "none";
  uint64_t seed = 1234;
  std::string json = "bench_shard.json";
  bool quick = false;
};

int run(const ShardBenchOptions& o, const dist::MpiContext& mpi, int argc, char** argv) {
  const int rank = mpi.rank(), world = mpi.size();
  const ShardMode mode = parse_shard_mode(o.shard);
  std::vector<dist::RankPlacement> placements(world);
  dist::CommunicatorRequest request;
  request.name = "learners";
  for (int r = 0; r < world; ++r) {
    placements[r].world_rank = r;
    request.members.push_back(r);
  }
  request.payload = dist::Payload::kDeviceTensors;
  std::unique_ptr<dist::Communicator> comm = dist::create_communicator(request, placements, rank);

  model::ModelConfig mc = model::model_preset(o.preset);
  if (mc.kind != model::ModelKind::kQwen2) throw std::runtime_error("--preset must be a Qwen2 (text) preset");
  model::Qwen2Config cfg = mc.qwen2;
  if (o.layers > 0) cfg.num_hidden_layers = o.layers;
  cfg.max_position_embeddings = std::max<int64_t>(cfg.max_position_embeddings, o.seq);
  model::Qwen2ForCausalLM lm(cfg);
  lm->init_weights(o.seed);
  lm->train();
  std::vector<torch::Tensor> params = lm->parameters();
  int64_t numel = 0;
  for (const auto& p : params) numel += p.numel();

  const double lr = 1e-5, max_norm = 1.0;
  std::unique_ptr<torch::optim::AdamW> adamw;
  std::unique_ptr<dist::ShardedAdamW> sharded;
  if (mode == ShardMode::kNone) {
    adamw = std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(lr).weight_decay(0.0));
  } else {
    dist::ShardedAdamWOptions so;
    so.mode = mode;
    so.lr = lr;
    sharded = std::make_unique<dist::ShardedAdamW>(*comm, params, so);
  }
  const int64_t moments = sharded ? 2 * (sharded->range().second - sharded->range().first) : 2 * numel;

  comm->barrier();
  const bool peak_reset = reset_peak_rss();
  at::Generator gen = model::make_cpu_generator(o.seed + 7 + static_cast<uint64_t>(rank));
  const int64_t b = o.batch, t = o.seq, v = cfg.vocab_size;
  std::vector<double> t_step, t_opt;
  for (int step = 0; step < o.warmup + o.steps; ++step) {
    const torch::Tensor ids = torch::randint(0, v, {b, t + 1}, gen, torch::TensorOptions().dtype(torch::kInt64));
    comm->barrier();
    Stopwatch w;
    torch::Tensor logits = lm->forward(ids.narrow(1, 0, t));
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits.reshape({b * t, v}).to(torch::kFloat32),
                                                              ids.narrow(1, 1, t).reshape({b * t}));
    loss.backward();
    const double backward_done = w.seconds();
    const double loss_value = loss.item<double>();
    if (sharded) {
      sharded->step(loss_value, max_norm);
    } else {
      dist::allreduce_gradients(*comm, params, dist::ReduceOp::kSum);
      torch::nn::utils::clip_grad_norm_(params, max_norm);
      adamw->step();
      adamw->zero_grad();
    }
    const double all = w.seconds();
    if (step >= o.warmup) {
      t_step.push_back(all);
      t_opt.push_back(all - backward_done);
    }
    if (rank == 0) std::cerr << "bench_shard: step " << step << " " << fmt(all, 3) << " s\n";
  }
  const double peak_rss = peak_rss_mib();

  // Every rank's figures to rank 0: [step s, optimizer s, moments MiB, peak RSS MiB].
  const at::Tensor mine = torch::tensor({median(t_step), median(t_opt), moments * 4.0 / (1 << 20), peak_rss},
                                        torch::kFloat64);
  const std::vector<at::Tensor> all = comm->gather(mine, 0);
  if (rank != 0) return 0;
  nlohmann::json out = result_header("bench_shard", argc, argv, at::kCPU);
  out["settings"] = {{"preset", o.preset}, {"layers", cfg.num_hidden_layers}, {"params", numel}, {"seq", t},
                     {"batch", b}, {"steps", o.steps}, {"warmup", o.warmup}, {"ranks", world},
                     {"shard", shard_mode_name(mode)}, {"threads", at::get_num_threads()},
                     {"peak_rss_reset_before_steps", peak_reset}};
  Table table({"shard", "ranks", "rank", "params M", "step s", "optimizer s", "moments MiB", "peak RSS MiB"});
  nlohmann::json rows = nlohmann::json::array();
  for (int r = 0; r < world; ++r) {
    const at::Tensor x = all[static_cast<size_t>(r)];
    const double step_s = x[0].item<double>(), opt_s = x[1].item<double>(), mom = x[2].item<double>(),
                 rss = x[3].item<double>();
    rows.push_back({{"rank", r}, {"step_seconds", step_s}, {"optimizer_seconds", opt_s}, {"moments_mib", mom},
                    {"peak_rss_mib", rss}});
    table.add({shard_mode_name(mode), fmt_int(world), fmt_int(r), fmt(numel / 1e6, 1), fmt(step_s, 3), fmt(opt_s, 3),
               fmt(mom, 0), fmt(rss, 0)});
  }
  out["results"] = rows;
  std::cout << "bench_shard: " << o.preset << " (" << cfg.num_hidden_layers << " layers), " << b << " x " << t
            << " tokens per rank, float32, " << at::get_num_threads() << " intra-op thread(s)\n"
            << table.str();
  write_result(o.json, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  dist::MpiContext mpi(&argc, &argv);
  ShardBenchOptions o;
  po::options_description desc("bench_shard (under mpirun): learner step time and per-rank memory per --shard mode");
  desc.add_options()
      ("help,h", "this help")
      ("preset", po::value(&o.preset)->default_value(o.preset), "Qwen2 model preset")
      ("layers", po::value(&o.layers)->default_value(o.layers), "override the number of layers (0: preset's)")
      ("seq", po::value(&o.seq)->default_value(o.seq), "tokens per sequence")
      ("batch", po::value(&o.batch)->default_value(o.batch), "sequences per rank")
      ("steps", po::value(&o.steps)->default_value(o.steps), "timed steps (median)")
      ("warmup", po::value(&o.warmup)->default_value(o.warmup), "untimed steps first")
      ("shard", po::value(&o.shard)->default_value(o.shard), "none | optimizer | gradients")
      ("json", po::value(&o.json)->default_value(o.json), "result file (written by rank 0)")
      ("quick", po::bool_switch(&o.quick), "CI smoke: tiny preset, 1 step");
  try {
    po::variables_map vm;
    if (!parse_options_or_help(argc, argv, desc, vm, mpi.rank() == 0)) return 0;
    if (o.quick) {
      if (vm["preset"].defaulted()) o.preset = "tiny";
      if (vm["steps"].defaulted()) o.steps = 1;
    }
    return run(o, mpi, argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_shard: error on rank " << mpi.rank() << ": " << e.what() << "\n";
    dist::abort_job(1);
  }
}
