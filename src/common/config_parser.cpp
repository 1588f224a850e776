#include "ril/common/config_parser.h"
#include "ril/common/offload_mode.h"
#include "ril/common/shard_mode.h"

#include <boost/program_options.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <iomanip>
#include <type_traits>
#include <functional>
#include <map>
#include <sstream>

#include "ril/common/build_info.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace po = boost::program_options;

namespace ril {
namespace {

struct Command {
  const char* name;
  const char* summary;
  // Adds the command's own options, bound to fields of `config`.
  std::function<void(po::options_description&, po::positional_options_description&, Config&)> add_options;
};

// Ranges of the numeric options (NumericRange: finite, min..max).
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxTokens = 1 << 20;  // generation and sequence budgets; the model's limit is checked later
constexpr double kMaxBatch = 1 << 20;
NumericRange at_least(double min) { return {min, kInf, false, false}; }
NumericRange between(double min, double max) { return {min, max, false, false}; }
NumericRange positive_up_to(double max) { return {0, max, true, false}; }  // (0, max]
const NumericRange kCount = at_least(1);            // steps, log intervals: [1, inf)
const NumericRange kCountOrOff = at_least(0);       // 0 switches a feature off or means "all"
const NumericRange kBatch = between(1, kMaxBatch);
const NumericRange kTokens = between(1, kMaxTokens);
const NumericRange kTemperature = positive_up_to(100);
const NumericRange kTopP = positive_up_to(1);
const NumericRange kTopK = between(0, 2147483647);  // 0: off
const NumericRange kRepetitionPenalty = positive_up_to(100);
const NumericRange kLearningRate = positive_up_to(1);  // AdamW step sizes above 1 are meaningless
const NumericRange kLearningRateOrZero = between(0, 1);
const NumericRange kWeightDecay = between(0, 1);

// A numeric option's value semantic: Boost's typed_value plus the range, checked as soon as the
// text is parsed (command line and INI alike), so the message names the option and the text.
class RangedSemantic {
 public:
  virtual ~RangedSemantic() = default;
  virtual const NumericRange& range() const = 0;
};

// Thrown from xparse: a validation_error, so that Boost fills in the option's name.
class RangeError : public po::validation_error {
 public:
  RangeError(const std::string& message_template, const std::string& token)
      : po::validation_error(po::validation_error::invalid_option_value, "", token) {
    m_error_template = message_template;
    set_substitute("value", token);
  }
};

std::string must_be(const NumericRange& range) {
  const std::string text = range.text();
  return text[0] == '>' || text[0] == '<' ? text : "in " + text;
}

template <typename T>
class RangedValue : public po::typed_value<T>, public RangedSemantic {
 public:
  RangedValue(T* field, NumericRange range) : po::typed_value<T>(field), range_(range) {}
  const NumericRange& range() const override { return range_; }

  void xparse(boost::any& store, const std::vector<std::string>& tokens) const override {
    if constexpr (std::is_unsigned_v<T>) {
      // lexical_cast reads "-1" as 2^64-1: refuse the sign instead of wrapping.
      for (const std::string& token : tokens) {
        if (token.find('-') != std::string::npos) {
          throw RangeError(cat("%canonical_option% must be ", must_be(range_),
                               " (a negative value is not wrapped around), got %value%"), token);
        }
      }
    }
    try {
      po::typed_value<T>::xparse(store, tokens);
    } catch (const po::validation_error&) {  // not a number of this type: say what is expected
      throw RangeError(cat("%canonical_option% must be ", std::is_integral_v<T> ? "an integer " : "a number ",
                           must_be(range_), ", got %value%"),
                       tokens.empty() ? std::string() : tokens.front());
    }
    const double value = static_cast<double>(boost::any_cast<T>(store));
    if (!range_.contains(value)) {
      throw RangeError(cat("%canonical_option% must be ", std::isfinite(value) ? "" : "a finite number ",
                           must_be(range_), ", got %value%"),
                       tokens.empty() ? std::string() : tokens.front());
    }
  }

 private:
  NumericRange range_;
};

template <typename T>
const char* numeric_kind() {
  return std::is_floating_point_v<T> ? "REAL" : "INT";
}

// Binds a numeric option: every numeric option has a range (no overload without one).
template <typename T>
po::typed_value<T>* bind(T* field, const NumericRange& range) {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "ranges are for numeric options");
  auto* value = new RangedValue<T>(field, range);
  const std::string text = range.text();
  value->value_name(cat(numeric_kind<T>(), text[0] == '>' || text[0] == '<' ? " " : " in ", text));
  if constexpr (std::is_floating_point_v<T>) {
    std::ostringstream shown;  // 0.95, not Boost's 0.94999999999999996
    shown << std::setprecision(15) << *field;
    value->default_value(*field, shown.str());
  } else {
    value->default_value(*field);
  }
  return value;
}

po::typed_value<std::string>* bind(std::string* field) { return po::value<std::string>(field)->default_value(*field); }

void add_common_options(po::options_description& desc, Config& c) {
  desc.add_options()
      ("help,h", "show this help and exit")
      ("config", po::value(&c.common.config_file), "INI file of option values (command line wins)")
      ("log-level", bind(&c.common.log_level), "debug | info | warn | error | off (or env RIL_LOG_LEVEL)")
      ("layout", bind(&c.common.layout),
       "rank roles: auto, or blocks role[+role]=count, e.g. teacher=2,rollout=1,discriminator=1,learner=1")
      ("device", bind(&c.common.device), "auto | cpu | cuda | cuda:N (auto: the local rank's GPU if any)")
      ("comm", bind(&c.common.comm), "communicator backend between ranks: auto | mpi | nccl")
      ("seed", bind(&c.common.seed, kCountOrOff), "seed of every random draw")
      ("run-dir", bind(&c.common.run_dir), "directory for the run's files");
}

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"info", "summarise a ril HDF5 file (dataset, teacher cache, checkpoint, run, smoke), or a model's sizes",
       [](po::options_description& d, po::positional_options_description& p, Config& c) {
         d.add_options()("file", po::value(&c.info.path), "the HDF5 file (positional)")
             ("model", po::value(&c.info.model), "instead of a file: a model preset or HF model directory; prints "
              "parameters per component, memory and FLOPs, and the memory plan per learner rank")
             ("learners", bind(&c.info.learners, between(1, 1e6)), "with --model: learner ranks of the memory plan")
             ("shard", bind(&c.info.shard), "with --model: none | optimizer | gradients | all (ril train --shard runs each)")
             ("batch", bind(&c.info.batch, kBatch), "with --model: sequences per micro-batch on one rank (activation estimate)")
             ("seq-len", bind(&c.info.seq_len, kTokens), "with --model: tokens per sequence, image tokens included")
             ("dtype", bind(&c.info.dtype), "with --model: float32 | bfloat16 | float16 (weights, gradients, activations)")
             ("checkpoint-activations", po::bool_switch(&c.info.checkpoint_activations), "with --model: the activation estimate with activation checkpointing");
         p.add("file", 1);
       }},
      {"teach", "fill the HDF5 teacher cache: N sampled responses per question and teacher (resumable)",
       [](po::options_description& d, po::positional_options_description&, Config& c) {
         d.add_options()
             ("dataset", bind(&c.teach.dataset), "dataset file (.h5)")
             ("split", bind(&c.teach.split), "train | val | test")
             ("teacher", po::value(&c.teach.teachers)->composing(),
              "NAME=DIR: an HF-layout model directory with tokenizer.json (repeatable)")
             ("responses", bind(&c.teach.responses, between(1, 65536)), "responses per question and teacher (N)")
             ("out", bind(&c.teach.out), "teacher cache file (default <run-dir>/teacher_cache.h5)")
             ("batch", bind(&c.teach.batch, kBatch),
              "responses ((question, sample) rows) generated as one batch per teacher rank, then committed; "
              "the cache does not depend on it")
             ("max-new-tokens", bind(&c.teach.max_new_tokens, kTokens), "tokens generated per response at most")
             ("temperature", bind(&c.teach.temperature, kTemperature), "sampling temperature")
             ("top-p", bind(&c.teach.top_p, kTopP), "nucleus sampling threshold (1: off)")
             ("top-k", bind(&c.teach.top_k, kTopK), "top-k filter (0: off)")
             ("repetition-penalty", bind(&c.teach.repetition_penalty, kRepetitionPenalty), "repetition penalty (1: off)")
             ("limit", bind(&c.teach.limit, kCountOrOff), "only the first K questions of the split (0: all)")
             ("import-jsonl", bind(&c.teach.import_jsonl),
              "import responses from a JSONL file ({question_id|index, teacher, response}) instead of generating")
             ("teacher-name", bind(&c.teach.teacher_name), "the teacher the imported lines belong to");
       }},
      {"smoke", "exchange real tensors between the rank groups as training will, with timings",
       [](po::options_description& d, po::positional_options_description&, Config& c) {
         d.add_options()
             ("iterations", bind(&c.smoke.iterations, between(1, 1e6)), "exchange rounds")
             ("layers", bind(&c.smoke.layers, between(1, 1024)), "decoder layers of the synced parameter set")
             ("hidden", bind(&c.smoke.hidden, between(8, 65536)), "hidden size of the synced parameter set")
             ("vocab", bind(&c.smoke.vocab, between(2, 1 << 24)), "vocabulary size of the synced parameter set")
             ("batch", bind(&c.smoke.batch, between(1, 65536)), "responses per rollout/teacher rank per round")
             ("seq-len", bind(&c.smoke.seq_len, kTokens), "tokens per response")
             ("bucket-mb", bind(&c.smoke.bucket_mb, between(1, 65536)), "weight-sync bucket size in MiB")
             ("output", bind(&c.smoke.output), "HDF5 file to write and re-read (default <run-dir>/smoke.h5)");
       }},
      {"sft", "supervised fine-tuning (Stage 0) on a dataset's rationales or cached teacher responses, data-parallel over learners",
       [](po::options_description& d, po::positional_options_description&, Config& c) {
         d.add_options()
             ("dataset", bind(&c.sft.dataset), "dataset file (.h5)")
             ("tokenizer", bind(&c.sft.tokenizer), "tokenizer.json")
             ("model", bind(&c.sft.model), "model preset to start from (when --init is not given)")
             ("init", bind(&c.sft.init), "HF-layout model directory to start from (wins over --model)")
             ("style", bind(&c.sft.style), "rationale style to train on (see ril info DATASET); a list a,b trains each example in one of them (fixed per example)")
             ("teacher-cache", bind(&c.sft.teacher_cache), "train on the train-split responses of this teacher cache instead of --style rationales")
             ("teachers", po::value(&c.sft.teachers)->composing(), "with --teacher-cache: teacher names to use (default: all; repeatable or comma-separated)")
             ("out", bind(&c.sft.out), "final model directory (default <run-dir>/model)")
             ("steps", bind(&c.sft.steps, kCount), "optimizer updates")
             ("batch", bind(&c.sft.batch, kBatch), "examples per learner rank per update")
             ("accumulate", bind(&c.sft.accumulate, kBatch), "gradient accumulation: the batch runs in K micro-batches of about --batch/K examples, one update (same update, less activation memory)")
             ("checkpoint-activations", po::bool_switch(&c.sft.checkpoint_activations), "recompute each decoder layer's activations in backward instead of keeping them (same gradients, less memory, one more forward)")
             ("lr", bind(&c.sft.lr, kLearningRateOrZero), "learning rate of the first update (0: no change, writes the initial model)")
             ("lr-end", bind(&c.sft.lr_end, kLearningRateOrZero), "learning rate of the last update (linear decay)")
             ("warmup-steps", bind(&c.sft.warmup_steps, kCountOrOff), "linear warm-up from 0 to --lr over the first K updates, then the decay")
             ("weight-decay", bind(&c.sft.weight_decay, kWeightDecay), "AdamW weight decay")
             ("loss-mean", bind(&c.sft.loss_mean), "token: the mean over all response tokens of the batch | response: every response weighs the same, whatever its length (the mean of its tokens, averaged over the batch)")
             ("max-response-tokens", bind(&c.sft.max_response_tokens, kTokens), "response tokens kept per example")
             ("checkpoint-every", bind(&c.sft.checkpoint_every, kCountOrOff), "checkpoint every K updates (0: only at the end)")
             ("resume", po::bool_switch(&c.sft.resume), "continue from the newest checkpoint in <run-dir>/checkpoints")
             ("log-every", bind(&c.sft.log_every, kCount), "log progress every K updates")
             ("val-examples", bind(&c.sft.val_examples, kCountOrOff), "val examples scored at the end (0: none)");
       }},
      {"train", "train: --stage disc (discriminator pre-training) or --stage ril (the RIL loop, Dr.GRPO + D + answer reward)",
       [](po::options_description& d, po::positional_options_description&, Config& c) {
         TrainConfig& t = c.train;
         d.add_options()
             ("stage", bind(&t.stage), "disc | ril")
             ("dataset", bind(&t.dataset), "dataset file (.h5)")
             ("tokenizer", bind(&t.tokenizer), "student tokenizer.json (default <student>/tokenizer.json)")
             ("student", bind(&t.student), "HF-layout student directory: the SFT warm-up, also the frozen reference")
             ("discriminator", bind(&t.discriminator), "ril: directory written by --stage disc (default: mirror of --student)")
             ("teacher-cache", bind(&t.teacher_cache), "teacher cache file (ril teach)")
             ("teachers", po::value(&t.teachers)->composing(), "teacher names in the cache to use (default: all; repeatable)")
             ("out", bind(&t.out), "final model directory (default <run-dir>/model, disc stage <run-dir>/discriminator)")
             ("steps", bind(&t.steps, kCount), "optimizer updates")
             ("questions", bind(&t.questions, kBatch), "questions per step (global)")
             ("group", bind(&t.group, between(1, 1024)), "G: student and teacher responses per question")
             ("accumulate", bind(&t.accumulate, kBatch), "gradient accumulation: learner and discriminator ranks run their share of the step in K micro-batches (chunks of questions), one update (same update, less activation memory)")
             ("checkpoint-activations", po::bool_switch(&t.checkpoint_activations), "learner and discriminator: recompute each decoder layer's activations in backward instead of keeping them (same gradients, less memory, one more forward)")
             ("shard", bind(&t.shard), "learner and discriminator groups: none | optimizer (ZeRO-1: each rank holds and updates one slice of the AdamW state) | gradients (ZeRO-2: also only that slice of the reduced gradients); checkpoints resume at another rank count")
             ("offload", bind(&t.offload), "learner and discriminator: what the idle one puts away between its phases: none | optimizer (its AdamW moments and gradients) | optimizer+model (also D's weights and the learner's frozen reference); to a scratch file in the run directory on CPU, to pinned host memory on a GPU")
             ("max-new-tokens", bind(&t.max_new_tokens, kTokens), "tokens generated per response at most")
             ("temperature", bind(&t.temperature, kTemperature), "sampling temperature")
             ("top-p", bind(&t.top_p, kTopP), "nucleus sampling threshold (1: off)")
             ("top-k", bind(&t.top_k, kTopK), "top-k filter (0: off)")
             ("repetition-penalty", bind(&t.repetition_penalty, kRepetitionPenalty), "repetition penalty (1: off)")
             ("clip-eps", bind(&t.clip_eps, NumericRange{0, 1, true, true}), "ratio clip epsilon")
             ("beta", bind(&t.beta, between(0, 100)), "weight of the per-token KL to the frozen reference")
             ("lr", bind(&t.lr, kLearningRate), "ril: student learning rate (constant)")
             ("disc-lr", bind(&t.disc_lr, kLearningRate), "ril: discriminator learning rate (constant)")
             ("pretrain-lr", bind(&t.pretrain_lr, kLearningRate), "disc stage: first update's learning rate")
             ("pretrain-lr-end", bind(&t.pretrain_lr_end, kLearningRateOrZero), "disc stage: last update's learning rate (linear decay)")
             ("weight-decay", bind(&t.weight_decay, kWeightDecay), "AdamW weight decay")
             ("max-grad-norm", bind(&t.max_grad_norm, between(0, 1e6)), "gradient norm clip (0: off)")
             ("no-discriminator", po::bool_switch(&t.no_discriminator), "ablation: plain Dr.GRPO on student responses only")
             ("frozen-discriminator", po::bool_switch(&t.frozen_discriminator), "ablation: score with D but never update it")
             ("no-answer-reward", po::bool_switch(&t.no_answer_reward), "ablation: reward from the discriminator only")
             ("answer-reward", bind(&t.answer_reward), "rule: the answer checker | judge: the LLM judge's verdict (--judge) | both: the judge's verdict, agreement with the rule checker logged (metrics judge_agreement)")
             ("judge", bind(&t.judge), "HF-layout model directory of an LLM judge for --answer-reward judge|both; runs on the layout's judge ranks (judge=N, or teacher+judge colocated; --layout auto puts it on the teacher ranks)")
             ("judge-prompt", bind(&t.judge_prompt), "with --judge: the judge's prompt template file, with {question}, {ground_truth} and {response} once each (default: the built-in one)")
             ("judge-max-new-tokens", bind(&t.judge_max_new_tokens, kTokens), "with --judge: tokens per verdict at most; a verdict cut there counts as unparsed (0)")
             ("disc-system", bind(&t.disc_system), "discriminator's system message (default: the paper's; a discriminator directory keeps the one it was trained with)")
             ("advantage", bind(&t.advantage), "group: A = R - mean of the 2G group (paper) | student-baseline: baseline = mean of the student responses, teacher A clipped at >= 0")
             ("teacher-advantage", bind(&t.teacher_advantage), "reward: a teacher response's advantage comes from its reward, as a student's (paper) | answer: it is the response's answer reward (1 right, 0 wrong), whatever D says: correct teacher answers are imitated, D's verdict shapes only the student's samples")
             ("imitation-weight", bind(&t.imitation_weight, between(0, 1e3)), "teacher responses' advantages are multiplied by this (1: the paper's single loss; >1 strengthens imitation against the student's own samples)")
             ("imitation-per-response", po::bool_switch(&t.imitation_per_response), "a teacher response's advantage is divided by its token count: every teacher response weighs the same, whatever its length")
             ("checkpoint-every", bind(&t.checkpoint_every, kCountOrOff), "checkpoint every K steps (0: at the end and on SIGTERM/SIGUSR1 only)")
             ("resume", bind(&t.resume), "auto (newest complete checkpoint in <run-dir>, if any) | no | PATH")
             ("log-every", bind(&t.log_every, kCount), "log a progress line every K steps")
             ("max-bad-steps", bind(&t.max_bad_steps, kCountOrOff), "steps with a non-finite loss skipped before the job aborts")
             ("keep-checkpoints", bind(&t.keep_checkpoints, kCountOrOff), "complete checkpoints kept (0: all)")
             ("train-limit", bind(&t.train_limit, kCountOrOff), "only the first K train questions (0: all); fill their teacher cache with ril teach --limit K")
             ("val-every", bind(&t.val_every, kCountOrOff), "greedy accuracy on val questions every K steps and at the end, metrics column val_acc (0: never)")
             ("val-questions", bind(&t.val_questions, kCount), "with --val-every: the first K val questions")
             ("val-max-new-tokens", bind(&t.val_max_new_tokens, kTokens), "with --val-every: greedy tokens per answer at most")
             ("warn-kl", bind(&t.warn_kl, NumericRange{0, kInf, true, false}), "warn when the KL to the reference on student tokens exceeds this (collapse)")
             ("warn-limit-share", bind(&t.warn_limit_share, kTopP), "warn when this share of student responses hits --max-new-tokens (collapse)")
             ("max-staleness", bind(&t.max_staleness, between(0, 1)), "0: lockstep (rollout, then D and learner); 1: the rollout ranks sample step t+1 with the weights they hold while D and the learner work on step t (one step off-policy: the ratio uses the behaviour policy's log-probs; a response more than this many weight versions old is never used). Needs --stage ril and rollout ranks that are not learner ranks; a resume regenerates its first step in lockstep");
       }},
      {"eval", "held-out accuracy of models (HF dirs or train checkpoints) per task family: JSON + table",
       [](po::options_description& d, po::positional_options_description&, Config& c) {
         EvalConfig& e = c.eval;
         d.add_options()
             ("model", po::value(&e.models)->composing(), "NAME=PATH: HF-layout dir or train checkpoint .h5 (repeatable)")
             ("dataset", bind(&e.dataset), "dataset file (.h5)")
             ("split", bind(&e.split), "train | val | test")
             ("tokenizer", bind(&e.tokenizer), "tokenizer.json (default <model dir>/tokenizer.json)")
             ("limit", bind(&e.limit, kCountOrOff), "only the first K questions of the split (0: all)")
             ("batch", bind(&e.batch, kBatch), "questions per generate call")
             ("max-new-tokens", bind(&e.max_new_tokens, kTokens), "tokens generated per answer at most (greedy)")
             ("compare", po::value(&e.compare)->composing(), "A:B: accuracy of model A minus model B on the same questions, with a 95% paired bootstrap interval (repeatable)")
             ("out", bind(&e.out), "JSON results (default <run-dir>/eval.json)")
             ("judge", bind(&e.judge), "HF-layout model directory of an LLM judge: also score every answer with it (explanation, then <answer>0|1</answer>); the rule checker's accuracy stays the table's first block")
             ("judge-prompt", bind(&e.judge_prompt), "with --judge: the judge's prompt template file, with {question}, {ground_truth} and {response} once each (default: the built-in one)")
             ("judge-max-new-tokens", bind(&e.judge_max_new_tokens, kTokens), "with --judge: tokens per verdict at most; a verdict cut there counts as unparsed (0)");
       }},
      {"plot", "draw a run's training curves (metrics table) into a PNG",
       [](po::options_description& d, po::positional_options_description& p, Config& c) {
         d.add_options()
             ("run", po::value(&c.plot.run)->required(), "run directory or its metrics.h5 (positional)")
             ("out", bind(&c.plot.out), "PNG file to write")
             ("metrics", po::value(&c.plot.metrics)->composing(), "columns to draw (default: a standard set)");
         p.add("run", 1);
       }},
  };
  return list;
}

std::string top_level_help() {
  std::ostringstream out;
  out << "ril " << RIL_VERSION_STRING
      << ": Unified Reinforcement and Imitation Learning for small vision-language models (MPI)\n\n"
      << "usage: ril <command> [options]      (under mpirun/srun for several ranks)\n"
      << "       ril <command> --help\n       ril --version\n\ncommands:\n";
  for (const Command& cmd : commands()) {
    out << "  " << cmd.name << std::string(10 - std::min<size_t>(9, std::string(cmd.name).size()), ' ') << cmd.summary
        << "\n";
  }
  return out.str();
}

const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// INI text restricted to the lines that apply to `command`; other lines become blank so that
// Program_options' errors and ours keep the file's line numbers.
// Lines are echoed in messages through printable(): a binary file must not drive the terminal.
std::string applicable_ini(const std::string& path, const std::string& command) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw ConfigError(cat("cannot read config file '", path, "': ", std::strerror(errno)));
  }
  // A directory opens as an empty stream (its defaults would be used silently); a FIFO would block.
  if (!S_ISREG(st.st_mode)) {
    throw ConfigError(cat("config file '", path, "' is not a file (it is ", file_type_name(st.st_mode),
                          "); give an INI file"));
  }
  std::ifstream in(path);
  if (!in) throw ConfigError(cat("cannot read config file '", path, "': ", std::strerror(errno)));
  std::ostringstream out;
  std::string line, section;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string t = line;
    t.erase(0, t.find_first_not_of(" \t\r"));
    t.erase(t.find_last_not_of(" \t\r") + 1);
    if (t.empty() || t[0] == '#' || t[0] == ';') {
      out << "\n";
    } else if (t[0] == '[') {
      if (t.back() != ']' || t.size() < 3) {
        throw ConfigError(cat("config file '", path, "' line ", number, ": malformed section header '", printable(t), "'"));
      }
      section = t.substr(1, t.size() - 2);
      out << "\n";
    } else if (t.find('=') == std::string::npos || t[0] == '=') {
      throw ConfigError(cat("config file '", path, "' line ", number, ": expected 'name = value', got '", printable(t), "'"));
    } else if (section.empty() || section == "common" || section == command) {
      out << t << "\n";
    } else {
      out << "\n";
    }
  }
  return out.str();
}

std::string any_text(const boost::any& value) {
  if (value.empty()) return "";
  if (const auto* v = boost::any_cast<std::string>(&value)) return *v;
  if (const auto* v = boost::any_cast<int64_t>(&value)) return std::to_string(*v);
  if (const auto* v = boost::any_cast<uint64_t>(&value)) return std::to_string(*v);
  if (const auto* v = boost::any_cast<int>(&value)) return std::to_string(*v);
  if (const auto* v = boost::any_cast<double>(&value)) {
    std::ostringstream out;
    out.precision(17);
    out << *v;
    return out.str();
  }
  if (const auto* v = boost::any_cast<bool>(&value)) return *v ? "true" : "false";
  if (const auto* v = boost::any_cast<std::vector<std::string>>(&value)) {
    std::string text;
    for (const auto& s : *v) text += (text.empty() ? "" : ",") + s;
    return text;
  }
  return "?";
}

void check_values(const Config& c) {
  parse_log_level(c.common.log_level);
  if (c.command == "info") {
    RIL_CONFIG_CHECK(c.info.path.empty() != c.info.model.empty(), "ril info: give the file to summarise (ril info FILE) or --model PRESET_OR_DIR, one of them");
  }
  if (c.command == "teach") {
    const TeachConfig& t = c.teach;
    RIL_CONFIG_CHECK(!t.dataset.empty(), "ril teach: --dataset is required");
    RIL_CONFIG_CHECK(t.split == "train" || t.split == "val" || t.split == "test",
                     "--split must be train, val or test, got '", t.split, "'");
    if (t.import_jsonl.empty()) {
      RIL_CONFIG_CHECK(!t.teachers.empty(), "ril teach: give --teacher NAME=DIR (or --import-jsonl FILE --teacher-name NAME)");
      RIL_CONFIG_CHECK(t.teacher_name.empty(), "--teacher-name goes with --import-jsonl");
    } else {
      RIL_CONFIG_CHECK(t.teachers.empty(), "--import-jsonl and --teacher are alternatives: give one");
      RIL_CONFIG_CHECK(!t.teacher_name.empty(), "--import-jsonl needs --teacher-name NAME");
    }
    for (const std::string& spec : t.teachers) {
      const size_t eq = spec.find('=');
      RIL_CONFIG_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < spec.size() &&
                       spec.substr(0, eq).find('/') == std::string::npos,
                       "--teacher must be NAME=DIR (NAME without '/'), got '", spec, "'");
      for (const std::string& other : t.teachers) {
        RIL_CONFIG_CHECK(&other == &spec || other.substr(0, other.find('=')) != spec.substr(0, eq),
                         "--teacher name '", spec.substr(0, eq), "' given twice");
      }
    }
  }
  if (c.command == "smoke") {
    const SmokeConfig& s = c.smoke;
    RIL_CONFIG_CHECK(s.hidden % 8 == 0, "--hidden must be a multiple of 8, got ", s.hidden);
  }
  if (c.command == "sft") {
    const SftConfig& s = c.sft;
    RIL_CONFIG_CHECK(!s.dataset.empty(), "ril sft: --dataset is required");
    RIL_CONFIG_CHECK(!s.tokenizer.empty(), "ril sft: --tokenizer is required");
    RIL_CONFIG_CHECK(!s.init.empty() || !s.model.empty(), "ril sft: give --model PRESET or --init DIR");
    RIL_CONFIG_CHECK(s.loss_mean == "token" || s.loss_mean == "response", "--loss-mean must be token or response, got '",
                     s.loss_mean, "'");
    RIL_CONFIG_CHECK(s.accumulate <= s.batch, "--accumulate (", s.accumulate,
                     ") must be at most --batch (", s.batch, "): every micro-batch needs an example");
    RIL_CONFIG_CHECK(s.warmup_steps < s.steps, "--warmup-steps must be below --steps (", s.steps, "), got ",
                     s.warmup_steps);
  }
  if (c.command == "train") {
    const TrainConfig& t = c.train;
    RIL_CONFIG_CHECK(t.stage == "disc" || t.stage == "ril", "--stage must be disc or ril, got '", t.stage, "'");
    RIL_CONFIG_CHECK(t.accumulate <= t.questions, "--accumulate (", t.accumulate, ") must be at most --questions (",
                     t.questions, "): a micro-batch is a chunk of questions");
    RIL_CONFIG_CHECK(!t.dataset.empty(), "ril train: --dataset is required");
    RIL_CONFIG_CHECK(!t.student.empty(), "ril train: --student DIR is required (the SFT warm-up)");
    RIL_CONFIG_CHECK(!t.teacher_cache.empty() || (t.stage == "ril" && t.no_discriminator),
                     "ril train: --teacher-cache is required (except --stage ril --no-discriminator)");
    RIL_CONFIG_CHECK(!(t.no_discriminator && t.frozen_discriminator), "--no-discriminator and --frozen-discriminator exclude each other");
    RIL_CONFIG_CHECK(!(t.no_discriminator && t.no_answer_reward), "--no-discriminator with --no-answer-reward leaves no reward");
    RIL_CONFIG_CHECK(t.stage == "ril" || !(t.no_discriminator || t.frozen_discriminator || t.no_answer_reward),
                     "the ablation switches apply to --stage ril only");
    RIL_CONFIG_CHECK(t.advantage == "group" || t.advantage == "student-baseline",
                     "--advantage must be group or student-baseline, got '", t.advantage, "'");
    RIL_CONFIG_CHECK(t.teacher_advantage == "reward" || t.teacher_advantage == "answer",
                     "--teacher-advantage must be reward or answer, got '", t.teacher_advantage, "'");
    RIL_CONFIG_CHECK(t.teacher_advantage == "reward" || (t.stage == "ril" && !t.no_discriminator && !t.no_answer_reward),
                     "--teacher-advantage answer needs --stage ril with teacher responses (no --no-discriminator)",
                     " and an answer reward (no --no-answer-reward)");
    RIL_CONFIG_CHECK(!t.resume.empty(), "--resume must be auto, no or a checkpoint path");
    RIL_CONFIG_CHECK(t.answer_reward == "rule" || t.answer_reward == "judge" || t.answer_reward == "both",
                     "--answer-reward must be rule, judge or both, got '", t.answer_reward, "'");
    RIL_CONFIG_CHECK(t.answer_reward == "rule" || !t.judge.empty(), "ril train: --answer-reward ", t.answer_reward,
                     " needs --judge DIR (the judge model)");
    RIL_CONFIG_CHECK(t.judge.empty() || t.answer_reward != "rule", "ril train: --judge is given but --answer-reward is rule,",
                     " so the judge would run unused; add --answer-reward judge (or both)");
    RIL_CONFIG_CHECK(t.judge.empty() || (t.stage == "ril" && !t.no_answer_reward),
                     "ril train: --judge scores the answer reward: it needs --stage ril without --no-answer-reward");
    RIL_CONFIG_CHECK(t.judge_prompt.empty() || !t.judge.empty(), "ril train: --judge-prompt needs --judge (the judge model)");
    RIL_CONFIG_CHECK(t.max_staleness == 0 || t.stage == "ril",
                     "ril train: --max-staleness 1 overlaps rollout with the student's update: it needs --stage ril");
    parse_shard_mode(t.shard);  // ConfigError: "--shard must be none, optimizer or gradients, got '...'"
    parse_offload_mode(t.offload);  // ConfigError: "--offload must be none, optimizer or optimizer+model, got '...'"
  }
  if (c.command == "eval") {
    const EvalConfig& e = c.eval;
    RIL_CONFIG_CHECK(!e.models.empty(), "ril eval: give --model NAME=PATH (repeatable)");
    RIL_CONFIG_CHECK(!e.dataset.empty(), "ril eval: --dataset is required");
    RIL_CONFIG_CHECK(e.split == "train" || e.split == "val" || e.split == "test",
                     "--split must be train, val or test, got '", e.split, "'");
    for (const std::string& spec : e.models) {
      const size_t eq = spec.find('=');
      RIL_CONFIG_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(),
                       "--model must be NAME=PATH, got '", spec, "'");
    }
    RIL_CONFIG_CHECK(e.judge_prompt.empty() || !e.judge.empty(), "ril eval: --judge-prompt needs --judge (the judge model)");
  }
  if (c.command == "plot") {
    RIL_CONFIG_CHECK(!c.plot.out.empty(), "ril plot: --out is required");
  }
}

}  // namespace

std::string Config::resolved_text() const {
  std::string text = cat("# ril ", command, ", resolved configuration\n[", command, "]\n");
  for (const auto& [name, value] : resolved) text += cat(name, " = ", value, "\n");
  return text;
}

std::string version_text() {
  return cat("ril ", RIL_VERSION_STRING, " (LibTorch ", RIL_TORCH_VERSION, ", CUDA ", RIL_WITH_CUDA ? "on" : "off",
             ", ", RIL_BUILD_TYPE, ", ", RIL_CXX_COMPILER, ")");
}

bool NumericRange::contains(double value) const {
  if (!std::isfinite(value)) return false;
  if (min_open ? !(value > min) : !(value >= min)) return false;
  if (max_open ? !(value < max) : !(value <= max)) return false;
  return true;
}

std::string NumericRange::text() const {
  const auto number = [](double v) {
    std::ostringstream out;
    out << std::setprecision(15) << v;
    return out.str();
  };
  const bool low = std::isfinite(min), high = std::isfinite(max);
  if (low && !high) return cat(min_open ? "> " : ">= ", number(min));
  if (!low && high) return cat(max_open ? "< " : "<= ", number(max));
  if (!low && !high) return "any finite number";
  return cat(min_open ? "(" : "[", number(min), ", ", number(max), max_open ? ")" : "]");
}

std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const Command& cmd : commands()) names.push_back(cmd.name);
  return names;
}

std::vector<OptionSpec> option_specs(const std::string& command) {
  const Command* found = nullptr;
  for (const Command& cmd : commands()) {
    if (command == cmd.name) found = &cmd;
  }
  if (!found) throw ConfigError(cat("unknown command '", printable(command), "'"));
  Config c;
  po::options_description all;
  po::positional_options_description positional;
  add_common_options(all, c);
  found->add_options(all, positional, c);
  std::vector<OptionSpec> specs;
  for (const auto& option : all.options()) {
    OptionSpec spec;
    spec.name = option->long_name();
    const auto semantic = option->semantic();
    if (const auto* typed = dynamic_cast<const po::typed_value_base*>(semantic.get())) {
      const std::type_info& type = typed->value_type();
      spec.value_type = type == typeid(int64_t)                    ? "int64"
                        : type == typeid(uint64_t)                 ? "uint64"
                        : type == typeid(double)                   ? "double"
                        : type == typeid(std::string)              ? "string"
                        : type == typeid(bool)                     ? "bool"
                        : type == typeid(std::vector<std::string>) ? "strings"
                                                                   : type.name();
    }
    if (const auto* ranged = dynamic_cast<const RangedSemantic*>(semantic.get())) spec.range = ranged->range();
    boost::any default_value;
    if (semantic->apply_default(default_value)) spec.default_text = any_text(default_value);
    specs.push_back(std::move(spec));
  }
  return specs;
}

ParseResult parse_command_line(int argc, const char* const argv[]) {
  ParseResult result;
  if (argc < 2) throw ConfigError(cat("no command given\n\n", top_level_help()));
  const std::string first = argv[1];
  if (first == "--version" || first == "-V") {
    result.exit_now = true;
    result.output = version_text() + "\n";
    return result;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    result.exit_now = true;
    result.output = top_level_help();
    return result;
  }
  const Command* command = nullptr;
  for (const Command& cmd : commands()) {
    if (first == cmd.name) command = &cmd;
  }
  if (!command) {
    throw ConfigError(cat("unknown command '", first, "'\n\n", top_level_help()));
  }

  Config& c = result.config;
  c.command = command->name;
  po::options_description common("common options");
  po::options_description own(cat(command->name, " options"));
  po::positional_options_description positional;
  add_common_options(common, c);
  command->add_options(own, positional, c);
  po::options_description all;
  all.add(common).add(own);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc - 1, argv + 1).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::ostringstream out;
      out << "usage: ril " << command->name << (command->name == std::string("info") ? " FILE | --model PRESET_OR_DIR" : command->name == std::string("plot") ? " RUN" : "")
          << " [options]\n" << command->summary << "\n\n" << own << "\n" << common;
      result.exit_now = true;
      result.output = out.str();
      return result;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::istringstream ini(applicable_ini(path, command->name));
      try {
        po::store(po::parse_config_file(ini, all, /*allow_unregistered=*/false), vm);
      } catch (const po::error& e) {
        throw ConfigError(cat("config file '", path, "': ", printable(e.what())));
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(cat("ril ", command->name, ": ", e.what(), " (see 'ril ", command->name, " --help')"));
  }
  // RIL_LOG_LEVEL applies when --log-level was not given on the command line or in the file.
  if (vm["log-level"].defaulted()) {
    if (const char* env = std::getenv("RIL_LOG_LEVEL")) c.common.log_level = env;
  }
  check_values(c);
  for (const auto& option : all.options()) {
    const std::string& name = option->long_name();
    if (name == "help" || name == "config") continue;
    c.resolved.emplace_back(name, vm.count(name) ? any_text(vm[name].value()) : "");
  }
  for (auto& [name, value] : c.resolved) {
    if (name == "log-level") value = c.common.log_level;
  }
  return result;
}

}  // namespace ril
