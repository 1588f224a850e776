// bench_weight_sync: dist::WeightSync (learner root -> other ranks, packed byte buckets) for a
// model's full parameter set, per bucket size; run under mpirun with >= 2 ranks.
//
// The parameter set is the preset's HF state dict (names and shapes of Qwen2ForCausalLM, tied
// embedding once: 494.0M parameters for qwen2-0.5b), allocated directly, not as a module. Rank 0
// fills it with random values, the others with zeros. Per bucket size: one warm-up sync, then
// --repeats timed syncs, each after a barrier; the figure is the slowest rank's time (median over
// repeats). After the warm-up every receiver's checksum (float64 sum of every tensor) must equal
// the root's exactly.
//
// Beside each figure, "raw": MPI broadcasts of the same number of bytes in the same bucket size
// from one preallocated buffer (no packing copies, no header): what the transport alone costs.
//
// Devices: --device cuda puts every rank's tensors on GPU (local rank modulo the GPUs visible);
// the factory then picks NCCL when every rank has its own GPU, else MPI host-staged (ranks sharing
// one GPU). One node only: placements are made from the world rank.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <boost/program_options.hpp>

#include <iostream>

#include "bench_common.h"
#include "ril/dist/communicator_factory.h"
#include "ril/dist/device.h"
#include "ril/dist/mpi_context.h"
#include "ril/dist/weight_sync.h"
#include "ril/model/model_config.h"

namespace po = boost::program_options;
using namespace ril;
using namespace ril::bench;

namespace {

struct WeightSyncBenchOptions {
  std::string preset = "qwen2-0.5b";
  int64_t layers = 0;  // 0: the preset's
  std::string dtype = "fp32";
  std::string buckets = "1,4,16,32,64,256";  // MiB
  int repeats = 3;
  std::string device = "cpu";
  std::string backend = "auto";
  std::string json = "bench_weight_sync.json";
  bool quick = false;
};

// The HF state-dict layout of Qwen2ForCausalLM (see qwen2_decoder.h), lm_head omitted when tied.
std::vector<std::pair<std::string, std::vector<int64_t>>> qwen2_layout(const model::Qwen2Config& c) {
  const int64_t h = c.hidden_size, dh = c.resolved_head_dim(), q = c.num_attention_heads * dh,
                kv = c.num_key_value_heads * dh, inter = c.intermediate_size;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "self_attn.q_proj.weight", {q, h}});
    out.push_back({p + "self_attn.q_proj.bias", {q}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.k_proj.bias", {kv}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.v_proj.bias", {kv}});
    out.push_back({p + "self_attn.o_proj.weight", {h, q}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
    out.push_back({p + "mlp.gate_proj.weight", {inter, h}});
    out.push_back({p + "mlp.up_proj.weight", {inter, h}});
    out.push_back({p + "mlp.down_proj.weight", {h, inter}});
  }
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  return out;
}

double checksum(const dist::NamedTensors& tensors) {
  double s = 0;
  for (const auto& [name, t] : tensors) s += t.to(at::kCPU, at::kDouble).sum().item<double>();
  return s;
}

// Slowest rank's value (collective).
double max_over_ranks(dist::Communicator& comm, double value) {
  at::Tensor x = at::full({1}, value, at::TensorOptions().dtype(at::kDouble));
  comm.allreduce(x, dist::ReduceOp::kMax);
  return x.item<double>();
}

int run(const WeightSyncBenchOptions& o, const dist::MpiContext& mpi, int argc, char** argv) {
  const int rank = mpi.rank(), world = mpi.size();
  if (world < 2) throw std::runtime_error("run under mpirun with at least 2 ranks (got 1)");
  const at::ScalarType dtype = parse_dtype(o.dtype);
  const std::vector<int64_t> bucket_mib = parse_int_list(o.buckets);

  const int local_rank = dist::detect_local_rank();
  const at::Device device = o.device == "cpu" ? at::Device(at::kCPU) : dist::select_device(o.device, local_rank);
  std::vector<dist::RankPlacement> placements(world);
  const int gpus = device.is_cuda() ? dist::cuda_device_count() : 0;
  for (int r = 0; r < world; ++r) {
    placements[r].world_rank = r;
    placements[r].local_rank = r;
    placements[r].host = dist::host_name();
    placements[r].device = device.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(r % gpus)) : at::Device(at::kCPU);
  }
  dist::CommunicatorRequest request;
  request.name = "weights";
  for (int r = 0; r < world; ++r) request.members.push_back(r);
  request.backend = dist::parse_comm_backend(o.backend);
  const char* backend_name = nullptr;
  const std::string reason = dist::backend_reason(request, placements, &backend_name);
  std::unique_ptr<dist::Communicator> comm = dist::create_communicator(request, placements, rank);

  model::ModelConfig mc = model::model_preset(o.preset);
  if (mc.kind != model::ModelKind::kQwen2) throw std::runtime_error("--preset must be a Qwen2 (text) preset");
  model::Qwen2Config cfg = mc.qwen2;
  if (o.layers > 0) cfg.num_hidden_layers = o.layers;

  dist::NamedTensors tensors;
  int64_t params = 0, bytes = 0;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(99);
  for (const auto& [name, shape] : qwen2_layout(cfg)) {
    at::Tensor t;
    if (rank == 0) {
      t = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)).to(device, dtype);
    } else {
      t = at::zeros(shape, at::TensorOptions().dtype(dtype).device(device));
    }
    params += t.numel();
    bytes += static_cast<int64_t>(t.nbytes());
    tensors.emplace_back(name, t);
  }
  const double root_sum = rank == 0 ? checksum(tensors) : 0.0;

  nlohmann::json out = result_header("bench_weight_sync", argc, argv, device);
  out["settings"] = {{"preset", o.preset}, {"layers", cfg.num_hidden_layers}, {"params", params}, {"bytes", bytes},
                     {"dtype", dtype_name(dtype)}, {"ranks", world}, {"device", device.str()},
                     {"backend", comm->backend()}, {"backend_reason", reason}, {"repeats", o.repeats},
                     {"quick", o.quick}};
  Table table({"bucket MiB", "buckets", "sync s", "GB/s", "raw bcast s", "raw GB/s", "sync/raw"});
  nlohmann::json results = nlohmann::json::array();
  int64_t version = 0;
  for (const int64_t mib : bucket_mib) {
    const int64_t bucket_bytes = mib << 20;
    dist::WeightSyncOptions so;
    so.bucket_bytes = bucket_bytes;
    dist::WeightSync sync(*comm, /*root=*/0, tensors, so);
    sync.sync(++version);  // warm-up (buffers, MPI connections)
    if (rank != 0) {
      // Receivers: zeros before the first sync, so a sum equal to the root's means the data came.
      at::Tensor sum = at::full({1}, checksum(tensors), at::TensorOptions().dtype(at::kDouble));
      at::Tensor expected = at::zeros({1}, at::TensorOptions().dtype(at::kDouble));
      comm->broadcast(expected, 0);
      if (sum.item<double>() != expected.item<double>()) {
        throw std::runtime_error("rank " + std::to_string(rank) + ": checksum after sync " + fmt(sum.item<double>(), 6) +
                                 " != root's " + fmt(expected.item<double>(), 6));
      }
    } else {
      at::Tensor expected = at::full({1}, root_sum, at::TensorOptions().dtype(at::kDouble));
      comm->broadcast(expected, 0);
    }
    std::vector<double> t_sync, t_raw;
    int64_t buckets = 0;
    for (int r = 0; r < o.repeats; ++r) {
      comm->barrier();
      Stopwatch w;
      const dist::WeightSyncStats stats = sync.sync(++version);
      sync_device(device);
      t_sync.push_back(max_over_ranks(*comm, w.seconds()));
      buckets = stats.buckets;
    }
    {
      // Raw: the same bytes as broadcasts of one bucket-sized buffer, no packing.
      at::Tensor buffer = at::zeros({std::min(bucket_bytes, bytes)}, at::TensorOptions().dtype(at::kByte).device(device));
      comm->broadcast(buffer, 0);  // warm-up
      for (int r = 0; r < o.repeats; ++r) {
        comm->barrier();
        Stopwatch w;
        for (int64_t begin = 0; begin < bytes; begin += bucket_bytes) {
          const int64_t size = std::min(bucket_bytes, bytes - begin);
          at::Tensor part = buffer.narrow(0, 0, size);
          comm->broadcast(part, 0);
        }
        sync_device(device);
        t_raw.push_back(max_over_ranks(*comm, w.seconds()));
      }
    }
    const double s = median(t_sync), raw = median(t_raw);
    table.add({fmt_int(mib), fmt_int(buckets), fmt(s, 3), fmt(bytes / s / 1e9, 2), fmt(raw, 3), fmt(bytes / raw / 1e9, 2),
               fmt(s / raw, 2)});
    results.push_back({{"bucket_mib", mib}, {"buckets", buckets}, {"sync_seconds", s}, {"sync_seconds_all", t_sync},
                       {"sync_gbs", bytes / s / 1e9}, {"raw_seconds", raw}, {"raw_seconds_all", t_raw},
                       {"raw_gbs", bytes / raw / 1e9}});
  }
  out["results"] = results;
  if (rank == 0) {
    std::cout << "bench_weight_sync: " << o.preset << " (" << cfg.num_hidden_layers << " layers, " << fmt(params / 1e6, 1)
              << "M params, " << dtype_name(dtype) << ", " << fmt(bytes / 1e9, 3) << " GB) from rank 0 to " << world - 1
              << " rank(s) on " << device.str() << ", backend " << comm->backend() << " (" << reason
              << "); slowest rank, median of " << o.repeats << "; checksums verified\n"
              << table.str();
    write_result(o.json, out);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  dist::MpiContext mpi(&argc, &argv);
  WeightSyncBenchOptions o;
  po::options_description desc("bench_weight_sync (under mpirun, >= 2 ranks): WeightSync time and GB/s per bucket size");
  desc.add_options()
      ("help,h", "this help")
      ("preset", po::value(&o.preset)->default_value(o.preset), "model preset whose parameter set is sent")
      ("layers", po::value(&o.layers)->default_value(o.layers), "override the number of layers (0: preset's)")
      ("dtype", po::value(&o.dtype)->default_value(o.dtype), "fp32 | bf16")
      ("buckets", po::value(&o.buckets)->default_value(o.buckets), "bucket sizes in MiB, comma-separated")
      ("repeats", po::value(&o.repeats)->default_value(o.repeats), "timed syncs per bucket size (median)")
      ("device", po::value(&o.device)->default_value(o.device), "cpu | cuda")
      ("backend", po::value(&o.backend)->default_value(o.backend), "auto | mpi | nccl (communicator factory)")
      ("json", po::value(&o.json)->default_value(o.json), "result file (written by rank 0)")
      ("quick", po::bool_switch(&o.quick), "CI smoke: tiny preset, buckets 1,4, 1 repeat");
  try {
    po::variables_map vm;
    if (!parse_options_or_help(argc, argv, desc, vm, mpi.rank() == 0)) return 0;
    if (o.quick) {
      if (vm["preset"].defaulted()) o.preset = "tiny";
      if (vm["buckets"].defaulted()) o.buckets = "1,4";
      if (vm["repeats"].defaulted()) o.repeats = 1;
    }
    if (o.repeats < 1) throw std::runtime_error("--repeats must be >= 1");
    return run(o, mpi, argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_weight_sync: error on rank " << mpi.rank() << ": " << e.what() << "\n";
    dist::abort_job(1);
  }
}
