// bench_decode: greedy decode throughput of model::generate (KV cache) against batch size, with
// the memory-bandwidth bound beside each figure.
//
// Model: a preset (tiny, qwen2-0.5b, ...) with random weights (init_parameters, fixed seed); no
// end-of-sequence token, so every row generates exactly --new-tokens tokens. Prompts: random ids,
// all --prompt-len long (no padding); the prompts of batch B are the first B rows of one matrix.
//
// Figures per batch size B (median over --repeats runs after one warm-up):
//   e2e tokens/s     B * N / time of generate(N)             (prefill included, as HF generate)
//   step ms          (time of generate(N) - time of generate(1)) / (N - 1): one decode step
//   decode tokens/s  B / step time
//   tok/cpu-s        B * N / process CPU time of generate(N): steadier than wall time on a
//                    shared machine (single-threaded runs)
//   bound tokens/s   B * bandwidth / bytes read per step, bytes = every weight once (the tied
//                    embedding is read whole by the lm_head) + K and V of every layer at the mean
//                    context length P + N/2. Bandwidth: measured here (host: the best of a
//                    multi-threaded read; CUDA: a device copy).
//
// --dump DIR writes DIR/model (save_pretrained, float32) and DIR/decode_case.json (prompts,
// generated tokens and timings per batch) for bench/python/decode_baseline.py (CPU) and
// bench/python/hf_generate_baseline.py (GPU), which rerun the same prompts on the same weights
// and check that the tokens are identical.
#include <c10/core/InferenceMode.h>
#include <torch/torch.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <thread>

#include "bench_common.h"
#include "ril/model/checkpoint.h"
#include "ril/model/fused_decode.h"
#include "ril/model/generator.h"
#include "ril/model/model_config.h"
#include "ril/model/qwen2_decoder.h"
#include "ril/model/sampler.h"

namespace po = boost::program_options;
using namespace ril;
using namespace ril::bench;

namespace {

struct DecodeBenchOptions {
  std::string preset = "tiny";
  int64_t layers = 0;  // 0: the preset's
  std::string batches = "1,4,16,64";
  int64_t prompt_len = 16;
  int64_t new_tokens = 64;
  int repeats = 3;
  uint64_t seed = 1234;
  int threads = 0;     // 0: LibTorch's default
  std::string device = "cpu";
  std::string dtype = "fp32";
  bool inference_mode = true;
  std::string path = "fused";  // decode step: "fused" (FusedDecoder, generate()'s default) or "generic"
  bool breakdown = false;  // per-component time of a decode step (see decode_breakdown)
  std::string dump;    // directory for the baselines
  std::string json = "bench_decode.json";
  int64_t bandwidth_mib = 512;
  bool quick = false;
};

int64_t numel_of(const model::Qwen2ForCausalLM& lm) {
  int64_t n = 0;
  for (const auto& p : lm->parameters()) n += p.numel();
  return n;
}

int64_t llc_bytes() {
  const long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
  return l3 > 0 ? l3 : 0;
}

nlohmann::json tensor_rows(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kInt64).contiguous();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) {
    const int64_t* p = c[i].data_ptr<int64_t>();
    rows.push_back(std::vector<int64_t>(p, p + c.size(1)));
  }
  return rows;
}

// Where a decode step's time goes: generate()'s decode step (model::FusedDecoder, the one-token
// path) redone here with a CPU-time tick after each of its parts (FusedDecoder::set_tick): embed,
// per layer the norms, q/k/v GEMM, attention kernel (rotary, cache write, softmax), o_proj,
// gate/up GEMM, silu * up, down_proj, then the final norm, lm_head and argmax. The tokens must
// equal generate()'s (checked), so this is the same computation; what generate() spends beyond
// the sum is its own per-step bookkeeping (log-probs, token copies).
struct StepBreakdown {
  std::vector<std::pair<std::string, double>> parts;  // name -> CPU seconds over all steps
  int64_t steps = 0;
  double& at(const std::string& name) {
    for (auto& [n, v] : parts) {
      if (n == name) return v;
    }
    parts.emplace_back(name, 0.0);
    return parts.back().second;
  }
  double total() const {
    double t = 0;
    for (const auto& [n, v] : parts) t += v;
    return t;
  }
};

StepBreakdown decode_breakdown(model::Qwen2ForCausalLM& lm, const torch::Tensor& ids, int64_t new_tokens,
                               const torch::Tensor& expected_tokens, const at::Device& device) {
  const model::Qwen2Config& cfg = lm->config();
  const int64_t b = ids.size(0), p = ids.size(1);
  model::KVCacheOptions co;
  co.num_layers = cfg.num_hidden_layers;
  co.batch_size = b;
  co.num_kv_heads = cfg.num_key_value_heads;
  co.head_dim = cfg.resolved_head_dim();
  co.capacity = p + new_tokens;
  co.tensor_options = torch::TensorOptions().dtype(lm->model->embed_tokens->weight.scalar_type()).device(device);
  model::KVCache cache(co);
  const auto iopts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const torch::Tensor mask = torch::ones({b, p}, iopts);
  torch::Tensor h = lm->model->forward(lm->embed(ids), mask, {}, &cache);
  torch::Tensor next = lm->logits(h.select(1, p - 1)).to(torch::kFloat32).argmax(-1);
  std::vector<torch::Tensor> produced = {next};
  model::FusedDecoder step(lm, cache, mask, mask.sum(1), new_tokens);

  StepBreakdown bd;
  double mark = 0;
  auto tick = [&](const char* name) {
    sync_device(device);
    const double now = process_cpu_seconds();
    bd.at(name) += now - mark;
    mark = now;
  };
  step.set_tick(tick);
  for (int64_t n = 0; n + 1 < new_tokens; ++n) {
    mark = process_cpu_seconds();
    const torch::Tensor logits = step.step(next, n);
    next = logits.argmax(-1);
    tick("argmax");
    produced.push_back(next);
    ++bd.steps;
  }
  const torch::Tensor got = torch::stack(produced, 1).to(torch::kCPU);
  if (!torch::equal(got, expected_tokens)) {
    throw std::runtime_error("decode breakdown: the step-by-step tokens differ from generate()'s");
  }
  return bd;
}

// CPU microseconds per call of a tiny ATen op (at::add on two [8] float tensors, with the result
// allocated): the fixed cost that every op of a small decode step pays, in C++. The Python
// baseline measures the same call through the Python binding.
double small_op_cpu_us() {
  c10::InferenceMode guard;
  const at::Tensor a = at::ones({8}), b = at::ones({8});
  at::Tensor c;
  for (int i = 0; i < 1000; ++i) c = at::add(a, b);
  const int n = 20000;
  const double c0 = process_cpu_seconds();
  for (int i = 0; i < n; ++i) c = at::add(a, b);
  return (process_cpu_seconds() - c0) / n * 1e6;
}

int run(const DecodeBenchOptions& o, int argc, char** argv) {
  if (o.threads > 0) at::set_num_threads(o.threads);
  const at::Device device = parse_device(o.device);
  const at::ScalarType dtype = parse_dtype(o.dtype);
  const std::vector<int64_t> batches = parse_int_list(o.batches);
  if (o.new_tokens < 2) throw std::runtime_error("--new-tokens must be >= 2 (the step time is a difference)");

  model::ModelConfig mc = model::model_preset(o.preset);
  if (mc.kind != model::ModelKind::kQwen2) throw std::runtime_error("--preset must be a Qwen2 (text) preset");
  model::Qwen2Config cfg = mc.qwen2;
  if (o.layers > 0) cfg.num_hidden_layers = o.layers;
  cfg.eos_token_ids.clear();  // every row generates exactly new_tokens
  cfg.bos_token_id = -1;
  cfg.max_position_embeddings = std::max<int64_t>(cfg.max_position_embeddings, o.prompt_len + o.new_tokens);

  // Build and initialise on the CPU in float32 (the saved weights), then move.
  Stopwatch build_watch;
  model::Qwen2ForCausalLM lm(cfg);
  lm->init_weights(o.seed);
  lm->eval();
  const int64_t params = numel_of(lm);
  if (!o.dump.empty()) {
    model::save_pretrained(lm, o.dump + "/model");
    // Wait for the write-back: 2 GB of dirty pages (qwen2-0.5b) flushing during the timed runs
    // halved the measured tokens/s here.
    ::sync();
  }
  lm->to(device, dtype);
  const double build_s = build_watch.seconds();

  const int64_t max_b = *std::max_element(batches.begin(), batches.end());
  at::Generator prompt_gen = model::make_cpu_generator(o.seed + 1);
  const torch::Tensor prompts = torch::randint(0, cfg.vocab_size, {max_b, o.prompt_len}, prompt_gen,
                                               torch::TensorOptions().dtype(torch::kInt64));

  // Hardware reference, measured before the runs.
  BandwidthResult bw;
  if (device.is_cuda()) {
    bw = measure_device_bandwidth(device, o.bandwidth_mib << 20);
  } else {
    bw = measure_host_bandwidth(o.bandwidth_mib << 20, static_cast<int>(std::thread::hardware_concurrency()));
  }
  const double bandwidth_gbs = device.is_cuda() ? bw.copy_gbs : std::max({bw.read_gbs, bw.triad_gbs, bw.copy_gbs});

  const int64_t elem = static_cast<int64_t>(c10::elementSize(dtype));
  const int64_t weight_bytes = params * elem;
  const int64_t head_dim = cfg.resolved_head_dim();

  std::unique_ptr<c10::InferenceMode> inference;
  if (o.inference_mode) inference = std::make_unique<c10::InferenceMode>();

  nlohmann::json out = result_header("bench_decode", argc, argv, device);
  out["settings"] = {{"preset", o.preset}, {"layers", cfg.num_hidden_layers}, {"params", params},
                     {"vocab_size", cfg.vocab_size}, {"hidden_size", cfg.hidden_size},
                     {"prompt_len", o.prompt_len}, {"new_tokens", o.new_tokens}, {"repeats", o.repeats},
                     {"seed", o.seed}, {"device", device.str()}, {"dtype", dtype_name(dtype)},
                     {"inference_mode", o.inference_mode}, {"threads", at::get_num_threads()},
                     {"greedy", true}, {"kv_cache", true}, {"decode_path", o.path},
                     {"quick", o.quick}};
  out["bandwidth"] = bw.to_json();
  const double op_us = small_op_cpu_us();
  out["small_op_cpu_us"] = op_us;
  const double touch_us = measure_first_touch_us(int64_t{64} << 20, /*huge=*/false);
  const double touch_huge_us = measure_first_touch_us(int64_t{64} << 20, /*huge=*/true);
  out["first_touch_us_per_4k_page"] = touch_us;
  out["first_touch_us_per_4k_page_madv_hugepage"] = touch_huge_us;
  out["bandwidth_used_gbs"] = bandwidth_gbs;
  out["weight_bytes"] = weight_bytes;
  out["llc_bytes"] = llc_bytes();
  out["build_seconds"] = build_s;

  nlohmann::json case_json;
  case_json["preset"] = o.preset;
  case_json["layers"] = cfg.num_hidden_layers;
  case_json["prompt_len"] = o.prompt_len;
  case_json["new_tokens"] = o.new_tokens;
  case_json["seed"] = o.seed;
  case_json["dtype"] = dtype_name(dtype);
  case_json["device"] = device.str();
  case_json["threads"] = at::get_num_threads();
  case_json["small_op_cpu_us"] = op_us;
  case_json["prompts"] = tensor_rows(prompts);
  case_json["runs"] = nlohmann::json::array();

  Table table({"preset", "dtype", "batch", "e2e s", "e2e tok/s", "tok/cpu-s", "prefill+1 ms", "step ms", "decode tok/s",
               "MB/step", "bound tok/s", "% of bound"});
  nlohmann::json results = nlohmann::json::array();
  std::string breakdown_text;
  for (const int64_t b : batches) {
    model::GenerationInput in;
    in.input_ids = prompts.narrow(0, 0, b).to(device);
    model::GenerationOptions go;
    go.sampling.do_sample = false;
    go.fused_decode = o.path == "fused";
    go.max_new_tokens = o.new_tokens;
    model::GenerationOptions go1 = go;
    go1.max_new_tokens = 1;

    // Warm-up: allocator, OpenBLAS/oneDNN kernels, CUDA context (a few tokens suffice).
    model::GenerationOptions warm = go;
    warm.max_new_tokens = std::min<int64_t>(o.new_tokens, 4);
    model::generate(lm, in, warm, model::make_cpu_generator(0));
    sync_device(device);

    std::vector<double> t_full, t_one, c_full, c_one;
    torch::Tensor tokens;
    for (int r = 0; r < o.repeats; ++r) {
      Stopwatch w1;
      double c0 = process_cpu_seconds();
      model::generate(lm, in, go1, model::make_cpu_generator(0));
      sync_device(device);
      t_one.push_back(w1.seconds());
      c_one.push_back(process_cpu_seconds() - c0);
      Stopwatch w;
      c0 = process_cpu_seconds();
      model::GenerationResult res = model::generate(lm, in, go, model::make_cpu_generator(0));
      sync_device(device);
      t_full.push_back(w.seconds());
      c_full.push_back(process_cpu_seconds() - c0);
      // The step that ran, not the one asked for: a model the fused step does not serve falls back.
      if (model::decode_path_name(res.decode_path) != o.path) {
        throw std::runtime_error(std::string("--path ") + o.path + " asked, but generate() decoded with the " +
                                 model::decode_path_name(res.decode_path) + " step (FusedDecoder::supports)");
      }
      torch::Tensor got = res.tokens.to(torch::kCPU);
      if (!tokens.defined()) {
        tokens = got;
      } else if (!torch::equal(tokens, got)) {
        throw std::runtime_error("greedy decode is not deterministic: repeat " + std::to_string(r) +
                                 " differs at batch " + std::to_string(b));
      }
    }
    if (tokens.size(1) != o.new_tokens) {
      throw std::runtime_error("generate returned " + std::to_string(tokens.size(1)) + " tokens, expected " +
                               std::to_string(o.new_tokens));
    }
    const double full = median(t_full), one = median(t_one);
    // The step time is a difference of two medians: with few repeats on a busy machine it can
    // come out <= 0; then it is reported as unknown (null, "n/a").
    const bool step_valid = full > one;
    const double step = step_valid ? (full - one) / static_cast<double>(o.new_tokens - 1) : 0.0;
    const double e2e_tps = static_cast<double>(b * o.new_tokens) / full;
    // CPU time: steadier than wall time when other jobs share the cores (see process_cpu_seconds).
    const double cpu_full = median(c_full), cpu_one = median(c_one);
    const double e2e_cpu_tps = static_cast<double>(b * o.new_tokens) / cpu_full;
    const double cpu_step = cpu_full > cpu_one ? (cpu_full - cpu_one) / static_cast<double>(o.new_tokens - 1) : 0.0;
    const double decode_tps = step_valid ? static_cast<double>(b) / step : 0.0;
    const double mean_ctx = static_cast<double>(o.prompt_len) + static_cast<double>(o.new_tokens) / 2.0;
    const double kv_bytes = static_cast<double>(cfg.num_hidden_layers) * 2.0 * static_cast<double>(b) *
                            static_cast<double>(cfg.num_key_value_heads) * mean_ctx * static_cast<double>(head_dim) *
                            static_cast<double>(elem);
    const double step_bytes = static_cast<double>(weight_bytes) + kv_bytes;
    const double bound_tps = static_cast<double>(b) * bandwidth_gbs * 1e9 / step_bytes;

    const std::string na = "n/a";
    table.add({o.preset, dtype_name(dtype), fmt_int(b), fmt(full, 3), fmt(e2e_tps, 0), fmt(e2e_cpu_tps, 0),
               fmt(one * 1e3, 2),
               step_valid ? fmt(step * 1e3, 3) : na, step_valid ? fmt(decode_tps, 0) : na, fmt(step_bytes / 1e6, 2),
               fmt(bound_tps, 0), step_valid ? fmt(100.0 * decode_tps / bound_tps, 1) : na});
    const nlohmann::json null_json;
    results.push_back({{"batch", b},
                       {"e2e_seconds", full},
                       {"e2e_seconds_all", t_full},
                       {"e2e_tokens_per_s", e2e_tps},
                       {"e2e_cpu_seconds", cpu_full},
                       {"e2e_tokens_per_cpu_s", e2e_cpu_tps},
                       {"step_cpu_seconds", cpu_step},
                       {"prefill_plus_one_seconds", one},
                       {"step_seconds", step_valid ? nlohmann::json(step) : null_json},
                       {"decode_tokens_per_s", step_valid ? nlohmann::json(decode_tps) : null_json},
                       {"weight_bytes", weight_bytes},
                       {"kv_bytes_per_step_mean", kv_bytes},
                       {"bytes_per_step", step_bytes},
                       {"bound_tokens_per_s", bound_tps},
                       {"fraction_of_bound", step_valid ? nlohmann::json(decode_tps / bound_tps) : null_json}});
    case_json["runs"].push_back({{"batch", b}, {"tokens", tensor_rows(tokens)},
                                 {"e2e_tokens_per_s", e2e_tps}, {"e2e_seconds", full},
                                 {"e2e_tokens_per_cpu_s", e2e_cpu_tps}, {"e2e_cpu_seconds", cpu_full},
                                 {"decode_tokens_per_s", step_valid ? nlohmann::json(decode_tps) : null_json},
                                 {"step_seconds", step_valid ? nlohmann::json(step) : null_json}});
    if (o.breakdown) {
      StepBreakdown bd = decode_breakdown(lm, in.input_ids, o.new_tokens, tokens, device);
      const double per_step = bd.total() / static_cast<double>(bd.steps);
      Table bt({"part", "us/step", "% of parts"});
      nlohmann::json parts = nlohmann::json::object();
      for (const auto& [name, secs] : bd.parts) {
        bt.add({name, fmt(secs / static_cast<double>(bd.steps) * 1e6, 1), fmt(100.0 * secs / bd.total(), 1)});
        parts[name] = secs / static_cast<double>(bd.steps);
      }
      bt.add({"sum of parts", fmt(per_step * 1e6, 1), "100.0"});
      bt.add({"generate() step, CPU time", fmt(cpu_step * 1e6, 1), fmt(100.0 * cpu_step / per_step, 1)});
      breakdown_text += "decode step breakdown, batch " + std::to_string(b) + " (CPU time per step over " +
                        std::to_string(bd.steps) + " steps; tokens equal generate()'s):\n" + bt.str();
      results.back()["breakdown_cpu_seconds_per_step"] = parts;
      results.back()["breakdown_sum_cpu_seconds_per_step"] = per_step;
    }
    std::fflush(stdout);
  }
  out["results"] = results;

  std::cout << "bench_decode: " << o.preset << " (" << fmt(params / 1e6, 2) << "M params, " << cfg.num_hidden_layers
            << " layers), " << dtype_name(dtype) << " on " << device.str() << ", prompt " << o.prompt_len << ", "
            << o.new_tokens << " new tokens, greedy, KV cache, " << at::get_num_threads()
            << " intra-op thread(s), inference mode " << (o.inference_mode ? "on" : "off") << ", " << o.path
            << " decode step"
            << "; a tiny ATen op (add of two [8] tensors) costs " << fmt(op_us, 2) << " CPU us\n"
            << "memory bandwidth (" << (device.is_cuda() ? "device copy" : "host, best of read/triad/copy") << ", "
            << o.bandwidth_mib << " MiB buffers): " << fmt(bandwidth_gbs, 1) << " GB/s";
  if (!device.is_cuda()) {
    std::cout << " (read " << fmt(bw.read_gbs, 1) << ", triad " << fmt(bw.triad_gbs, 1) << ", copy "
              << fmt(bw.copy_gbs, 1) << ", " << bw.threads << " threads)";
  }
  std::cout << "; first touch of fresh memory " << fmt(touch_us, 2) << " us per 4 KiB page ("
            << fmt(touch_huge_us, 2) << " with MADV_HUGEPAGE)";
  std::cout << "; weights " << fmt(weight_bytes / 1e6, 2) << " MB";
  if (!device.is_cuda() && llc_bytes() > 0 && weight_bytes < llc_bytes()) {
    std::cout << " (fit in the last-level cache, " << llc_bytes() / (1 << 20)
              << " MiB as the OS reports it: the DRAM bound is loose)";
  }
  std::cout << "\n" << table.str() << breakdown_text;
  write_result(o.json, out);
  if (!o.dump.empty()) {
    write_json(o.dump + "/decode_case.json", case_json);
    std::cout << "wrote " << o.dump << "/model and " << o.dump << "/decode_case.json\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  DecodeBenchOptions o;
  po::options_description desc("bench_decode: greedy KV-cache decode throughput vs batch size, and the bandwidth bound");
  desc.add_options()
      ("help,h", "this help")
      ("preset", po::value(&o.preset)->default_value(o.preset), "model preset (tiny, qwen2-0.5b, ...)")
      ("layers", po::value(&o.layers)->default_value(o.layers), "override the number of layers (0: preset's)")
      ("batches", po::value(&o.batches)->default_value(o.batches), "batch sizes, comma-separated")
      ("prompt-len", po::value(&o.prompt_len)->default_value(o.prompt_len), "prompt tokens per row")
      ("new-tokens", po::value(&o.new_tokens)->default_value(o.new_tokens), "tokens generated per row")
      ("repeats", po::value(&o.repeats)->default_value(o.repeats), "timed runs per batch (median)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "weights seed; prompts use seed + 1")
      ("threads", po::value(&o.threads)->default_value(o.threads), "LibTorch intra-op threads (0: default)")
      ("device", po::value(&o.device)->default_value(o.device), "cpu | cuda | cuda:N")
      ("dtype", po::value(&o.dtype)->default_value(o.dtype), "fp32 | bf16")
      ("inference-mode", po::value(&o.inference_mode)->default_value(o.inference_mode), "run under c10::InferenceMode")
      ("path", po::value(&o.path)->default_value(o.path),
       "decode step: fused (the one-token path, generate()'s default) or generic (the cached forward)")
      ("bandwidth-mib", po::value(&o.bandwidth_mib)->default_value(o.bandwidth_mib), "buffer size of the bandwidth test")
      ("breakdown", po::bool_switch(&o.breakdown), "also time each part of a decode step (CPU time)")
      ("dump", po::value(&o.dump), "write DIR/model and DIR/decode_case.json for the Python baselines")
      ("json", po::value(&o.json)->default_value(o.json), "result file")
      ("quick", po::bool_switch(&o.quick), "CI smoke: tiny, 2 layers, batches 1,4, 8 new tokens, 1 repeat");
  try {
    po::variables_map vm;
    if (!parse_options_or_help(argc, argv, desc, vm)) return 0;
    if (o.quick) {
      if (!vm.count("preset") || vm["preset"].defaulted()) o.preset = "tiny";
      if (vm["layers"].defaulted()) o.layers = 2;
      if (vm["batches"].defaulted()) o.batches = "1,4";
      if (vm["new-tokens"].defaulted()) o.new_tokens = 8;
      if (vm["repeats"].defaulted()) o.repeats = 1;
      if (vm["bandwidth-mib"].defaulted()) o.bandwidth_mib = 64;
    }
    if (o.repeats < 1) throw std::runtime_error("--repeats must be >= 1");
    if (o.path != "fused" && o.path != "generic") throw std::runtime_error("--path must be fused or generic");
    if (o.breakdown && o.path != "fused") throw std::runtime_error("--breakdown times the fused step: use --path fused");
    return run(o, argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_decode: error: " << e.what() << "\n";
    return 1;
  }
}
