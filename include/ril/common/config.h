// The one typed configuration of a ril run. Defaults live here and nowhere else; the parser
// (config_parser.h) binds every field to a command-line option of the same name, and INI files
// use the same names. The resolved configuration is logged once and stored in every run file.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ril {

// Options every subcommand takes.
struct CommonConfig {
  std::string config_file;          // --config: INI file; command-line values win over it
  std::string log_level = "info";   // --log-level (or RIL_LOG_LEVEL): debug|info|warn|error|off
  std::string layout = "auto";      // --layout: role blocks, see dist/role_map.h
  std::string device = "auto";      // --device: auto|cpu|cuda|cuda:N
  std::string comm = "auto";        // --comm: auto|mpi|nccl (communicator backend between ranks)
  uint64_t seed = 1234;             // --seed: every random draw derives from it
  std::string run_dir = "runs/default";  // --run-dir: where a run writes its files
};

// `ril info FILE` or `ril info --model PRESET_OR_DIR` (one of them); with --model also the
// memory plan per learner rank (model/memory_plan.h)
struct InfoConfig {
  std::string path;
  std::string model;  // a model preset or an HF model directory: its sizes, memory and FLOPs
  int64_t learners = 1;               // --learners N: learner ranks of the plan
  std::string shard = "all";          // none | optimizer | gradients | all (the three rows)
  int64_t batch = 1;                  // sequences per micro-batch on one rank (activations)
  int64_t seq_len = 1024;             // tokens per sequence, image tokens included
  std::string dtype = "bfloat16";     // float32 | bfloat16 | float16
  bool checkpoint_activations = false;
};

// `ril teach`: fill the teacher cache (roles/teach_job.h). Sampling defaults are the paper's.
struct TeachConfig {
  std::string dataset;                 // dataset .h5
  std::string split = "train";         // train | val | test
  std::vector<std::string> teachers;   // NAME=DIR (HF-layout dir with tokenizer.json), repeatable
  int64_t responses = 4;               // N responses per question and teacher
  std::string out;                     // cache file (default <run-dir>/teacher_cache.h5)
  int64_t batch = 32;                  // responses generated together per teacher rank, one commit each
  int64_t max_new_tokens = 64;
  double temperature = 1.0;
  double top_p = 0.95;
  int64_t top_k = 50;
  double repetition_penalty = 1.05;
  int64_t limit = 0;                   // > 0: only the first `limit` questions of the split
  std::string import_jsonl;            // import responses made elsewhere instead of generating
  std::string teacher_name;            // the teacher the JSONL lines belong to
};

// `ril smoke`: every rank group exchanges tensors in the training loop's pattern.
struct SmokeConfig {
  int64_t iterations = 3;     // exchange rounds (the first is also timed; report medians)
  int64_t layers = 4;         // shape of the synthetic Qwen2-like parameter set that is synced
  int64_t hidden = 256;
  int64_t vocab = 2048;
  int64_t batch = 8;          // responses per rollout/teacher rank per round
  int64_t seq_len = 64;       // tokens per response
  int64_t bucket_mb = 32;     // weight-sync bucket size
  std::string output;         // HDF5 file written and re-read; default <run-dir>/smoke.h5
};

// `ril sft`: supervised fine-tuning (Stage 0) on a dataset's reference rationales, data-parallel
// over the learner group (see roles/sft_job.h).
struct SftConfig {
  std::string dataset;               // dataset .h5 (ril-data synth / import)
  std::string tokenizer;             // tokenizer.json
  std::string model = "tiny-llava";  // preset, used when --init is empty
  std::string init;                  // HF-layout model directory to start from (wins over --model)
  std::string style = "terse";       // rationale style of the dataset
  std::string teacher_cache;         // train on cached teacher responses instead of rationales
  std::vector<std::string> teachers; // with --teacher-cache: the teachers to use (default: all)
  std::string out;                   // final model directory (default <run-dir>/model)
  int64_t steps = 100;               // optimizer updates in all
  int64_t batch = 8;                 // examples per learner rank per step
  int64_t accumulate = 1;            // micro-batches the batch is cut into (same update, less activation memory)
  std::string loss_mean = "token";   // token: mean over the batch's response tokens | response: mean of each response's token mean
  bool checkpoint_activations = false;  // recompute decoder layers' activations in backward (model/activation_checkpoint.h)
  double lr = 1e-5;                  // paper: 1e-5 decaying linearly to 1e-6
  double lr_end = 1e-6;
  int64_t warmup_steps = 0;          // linear warm-up to --lr over the first K updates
  double weight_decay = 0.0;
  int64_t max_response_tokens = 128;
  int64_t checkpoint_every = 0;      // 0: only at the end
  bool resume = false;               // continue from <run-dir>/checkpoints when one is there
  int64_t log_every = 10;
  int64_t val_examples = 256;        // val split examples scored at the end (0: none)
};

// `ril train`: Stage 1 (--stage disc, discriminator pre-training) and Stage 2 (--stage ril, the
// RIL loop), DESIGN.md section 1; see roles/train_job.h. The sampling and loss defaults are the
// paper's (real model sizes); tiny models need larger learning rates.
struct TrainConfig {
  std::string stage = "ril";          // disc | ril
  std::string dataset;                // dataset .h5
  std::string tokenizer;              // default <student>/tokenizer.json
  std::string student;                // HF-layout dir: the SFT warm-up (initial policy and pi_ref)
  std::string discriminator;          // ril: dir written by --stage disc (empty: mirror of --student)
  std::string teacher_cache;          // teacher cache .h5 (ril teach)
  std::vector<std::string> teachers;  // teacher names in the cache to use (default: all)
  std::string out;                    // final model dir (default <run-dir>/model or <run-dir>/discriminator)
  int64_t steps = 100;                // optimizer updates
  int64_t questions = 4;              // questions per step (global batch)
  int64_t group = 4;                  // G: student responses and teacher responses per question
  int64_t accumulate = 1;             // learner and D: micro-batches per update (same update, less activation memory)
  bool checkpoint_activations = false;  // learner and D: recompute decoder layers' activations in backward
  std::string shard = "none";         // learner and D: none | optimizer (ZeRO-1) | gradients (ZeRO-2) (dist/sharded_optimizer.h)
  std::string offload = "none";       // learner and D between their phases: none | optimizer | optimizer+model (common/offload_mode.h)
  int64_t max_new_tokens = 64;
  double temperature = 1.0;
  double top_p = 0.95;
  int64_t top_k = 50;
  double repetition_penalty = 1.05;
  double clip_eps = 0.2;              // PPO clip epsilon
  double beta = 0.01;                 // KL(pi_theta || pi_ref) weight
  double lr = 1e-6;                   // ril: student learning rate (constant)
  double disc_lr = 1e-6;              // ril: discriminator learning rate (constant)
  double pretrain_lr = 1e-5;          // disc stage: first update's lr, decaying linearly to
  double pretrain_lr_end = 1e-6;      //   this one at the last update
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;         // 0: no clipping
  bool no_discriminator = false;      // ablation: plain Dr.GRPO (no D, no teacher responses)
  bool frozen_discriminator = false;  // ablation: score with D, never update it
  bool no_answer_reward = false;      // ablation: reward from D only
  std::string answer_reward = "rule"; // rule (the answer checker) | judge (the LLM judge's verdict) | both (judge, agreement logged)
  std::string judge;                  // HF-layout model dir of the LLM judge (layout role judge or teacher+judge)
  std::string judge_prompt;           // the judge's template file ({question}, {ground_truth}, {response})
  int64_t judge_max_new_tokens = 96;  // the judge's budget per verdict (cut = unparsed)
  std::string disc_system;            // D's system message ("": the paper's, or the one stored with --discriminator)
  std::string advantage = "group";    // group (paper: 2G mean) | student-baseline (algo/advantages.h)
  double imitation_weight = 1.0;      // teacher responses' advantages are multiplied by this (1: the paper)
  bool imitation_per_response = false;  // a teacher response's advantage is divided by its token count
  std::string teacher_advantage = "reward";  // reward (paper) | answer: a teacher response's advantage = its answer reward
  int64_t checkpoint_every = 0;       // 0: only at the end (and on SIGTERM/SIGUSR1)
  std::string resume = "auto";        // auto (newest complete checkpoint if any) | no | PATH
  int64_t log_every = 1;
  int64_t max_bad_steps = 3;          // non-finite losses: skip the step, abort after this many
  int64_t keep_checkpoints = 3;
  int64_t train_limit = 0;            // > 0: only the first K train questions (fill their cache with ril teach --limit K)
  int64_t val_every = 0;              // > 0: greedy accuracy on val questions every K steps (metrics column val_acc)
  int64_t val_questions = 100;        // the first K val questions
  int64_t val_max_new_tokens = 64;    // greedy budget of the val answers
  double warn_kl = 1.0;               // progress line warns when the KL on student tokens exceeds this
  double warn_limit_share = 0.3;      // ... or when this share of student responses hits --max-new-tokens
  int64_t max_staleness = 0;          // 0: lockstep; 1: rollout of step t+1 overlaps learning on step t (jobs/train_step.h)
};

// `ril eval`: held-out accuracy of one or more models (roles/eval_job.h).
struct EvalConfig {
  std::vector<std::string> models;    // NAME=PATH: HF-layout dir or a ril train checkpoint .h5 (repeatable)
  std::string dataset;
  std::string split = "test";
  std::string tokenizer;              // default <model dir>/tokenizer.json
  int64_t limit = 0;                  // > 0: only the first K questions
  int64_t batch = 16;                 // questions per generate call
  int64_t max_new_tokens = 64;
  std::vector<std::string> compare;   // A:B: accuracy of model A minus model B with a paired interval (repeatable)
  std::string out;                    // JSON (default <run-dir>/eval.json)
  std::string judge;                  // HF-layout model dir: also score every answer with this LLM judge
  std::string judge_prompt;           // the judge's template file ({question}, {ground_truth}, {response})
  int64_t judge_max_new_tokens = 96;  // the judge's budget per verdict (cut = unparsed)
};

// `ril plot RUN --out curves.png`: training curves from a run's metrics table.
struct PlotConfig {
  std::string run;                    // run directory or its metrics.h5
  std::string out = "curves.png";
  std::vector<std::string> metrics;   // columns to draw (default: a standard set)
};

struct Config {
  std::string command;  // "info", "smoke", ...
  CommonConfig common;
  InfoConfig info;
  TeachConfig teach;
  SmokeConfig smoke;
  SftConfig sft;
  TrainConfig train;
  EvalConfig eval;
  PlotConfig plot;
  // Every option of the command as "name = value", in declaration order: what was resolved
  // from defaults, the INI file and the command line.
  std::vector<std::pair<std::string, std::string>> resolved;

  std::string resolved_text() const;  // INI text, loadable with --config
};

}  // namespace ril
