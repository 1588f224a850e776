#include "ril/roles/eval_job.h"

#include <sys/stat.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ril/common/config_parser.h"
#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/data/dataset.h"
#include "ril/io/atomic_file.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_file.h"
#include "ril/io/module_state.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/model/llava_model.h"
#include "ril/model/model_config.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::roles {
namespace {

constexpr const char* kTag = "eval";
constexpr const char* kStudentGroup = "student";
constexpr const char* kStudentConfigAttr = "student_config";
constexpr const char* kStudentTokenizerAttr = "student_tokenizer";

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

model::ModelConfig parse_config_text(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(cat(source, ": not valid JSON: ", e.what()));
  }
  model::ModelConfig c = model::parse_model_config(j, source);
  c.validate(source);
  return c;
}

std::string config_source(const EvalModelSource& s) {
  return s.checkpoint ? cat(s.path, " (attribute ", kStudentConfigAttr, ")") : s.path + "/config.json";
}

std::string percent(double fraction) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << 100.0 * fraction << "%";
  return out.str();
}

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                            "_-+=/.,:@%") == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// ---- a model ready to answer ------------------------------------------------------------------

struct Evaluator {
  EvalModelSource source;
  model::ModelConfig config;
  std::unique_ptr<text::BpeTokenizer> tokenizer;
  SftBatchOptions prompt_options;
  model::GenerationOptions generation;
  bool llava = false;
  int64_t image_size = 0;
};

// Every check that needs no weights; ConfigError alike on every rank.
Evaluator prepare(const EvalModelSpec& spec, const EvalConfig& e, const data::Dataset& dataset) {
  Evaluator ev;
  ev.source = resolve_eval_model(spec, e.tokenizer);
  const std::string who = cat("ril eval: --model ", spec.name);
  ev.config = parse_config_text(ev.source.config_text, config_source(ev.source));
  try {
    ev.tokenizer = std::make_unique<text::BpeTokenizer>(text::BpeTokenizer::from_tokenizer_json(ev.source.tokenizer_path));
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& err) {
    throw ConfigError(cat(who, ": tokenizer: ", err.what()));
  }
  const int64_t model_vocab = ev.config.text().vocab_size;
  const int64_t tok_vocab = ev.tokenizer->vocab_size();
  RIL_CONFIG_CHECK(tok_vocab <= model_vocab, who, ": the tokenizer's vocabulary (", tok_vocab, " tokens, ",
                   ev.source.tokenizer_path, ") is larger than the model's (", model_vocab, ", ",
                   config_source(ev.source), "): they do not belong together; give the model's own --tokenizer");
  const auto& special = ev.tokenizer->special_ids();
  RIL_CONFIG_CHECK(special.im_start && special.im_end, who, ": the tokenizer ", ev.source.tokenizer_path,
                   " has no <|im_start|>/<|im_end|> tokens; eval prompts use the ChatML template as SFT does");
  ev.llava = ev.config.kind == model::ModelKind::kLlava;
  ev.prompt_options.with_image = ev.llava;
  if (ev.llava) {
    const model::LlavaConfig& llava = ev.config.llava;
    ev.prompt_options.image_token_id = llava.image_token_index;
    ev.prompt_options.image_tokens = llava.num_image_tokens();
    ev.image_size = llava.vision_config.image_size;
    const std::optional<int32_t> pad = ev.tokenizer->token_to_id("<|image_pad|>");
    RIL_CONFIG_CHECK(llava.image_token_index >= tok_vocab || (pad && *pad == llava.image_token_index), who,
                     ": the model's image token id ", llava.image_token_index, " is an ordinary token of ",
                     ev.source.tokenizer_path, " ('",
                     ev.tokenizer->id_to_token(static_cast<int32_t>(llava.image_token_index)), "')");
    if (dataset.image_height() != ev.image_size || dataset.image_width() != ev.image_size) {
      log_debug(kTag, spec.name, ": dataset images ", dataset.image_height(), "x", dataset.image_width(),
                " are resized to ", ev.image_size, "x", ev.image_size);
    }
  }
  SftBatchBuilder check(*ev.tokenizer, ev.prompt_options);  // throws ConfigError like SFT would
  (void)check;

  model::GenerationOptions& g = ev.generation;
  g.max_new_tokens = e.max_new_tokens;
  g.sampling.do_sample = false;  // greedy
  g.sampling.temperature = 1.0;
  g.sampling.top_k = 0;
  g.sampling.top_p = 1.0;
  g.sampling.repetition_penalty = 1.0;
  auto add_stop = [&](int64_t id) {
    if (std::find(g.stop_token_ids.begin(), g.stop_token_ids.end(), id) == g.stop_token_ids.end()) {
      g.stop_token_ids.push_back(id);
    }
  };
  add_stop(*special.im_end);
  if (special.eos) add_stop(*special.eos);
  for (int64_t id : ev.config.text().eos_token_ids) add_stop(id);
  g.pad_token_id = special.pad ? *special.pad : 0;
  return ev;
}

// Pixel values of dataset images [B, 3, S, S], normalised as in SFT (sft_batch.h).
torch::Tensor pixel_values(const data::Dataset& dataset, const std::vector<int64_t>& ids, int64_t size) {
  const int64_t b = static_cast<int64_t>(ids.size()), h = dataset.image_height(), w = dataset.image_width();
  torch::Tensor pixels = torch::empty({b, h, w, 3}, torch::TensorOptions().dtype(torch::kUInt8));
  for (int64_t i = 0; i < b; ++i) {
    const std::vector<uint8_t> bytes = dataset.image_bytes(ids[static_cast<size_t>(i)]);
    RIL_CHECK(static_cast<int64_t>(bytes.size()) == h * w * 3, "image of example ", ids[static_cast<size_t>(i)],
              " has ", bytes.size(), " bytes, expected ", h * w * 3);
    std::memcpy(pixels[i].data_ptr<uint8_t>(), bytes.data(), bytes.size());
  }
  torch::Tensor values = ((pixels.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0 - 0.5) / 0.5).contiguous();
  if (h != size || w != size) {
    values = torch::nn::functional::interpolate(
        values, torch::nn::functional::InterpolateFuncOptions()
                    .size(std::vector<int64_t>{size, size})
                    .mode(torch::kBilinear)
                    .align_corners(false));
  }
  return values;
}

// Greedy answers to one batch of questions.
std::vector<EvalAnswer> answer_batch(Evaluator& ev, model::PretrainedModel& m, const SftBatchBuilder& builder,
                                     const data::Dataset& dataset, const std::vector<int64_t>& ids,
                                     at::Device device) {
  torch::NoGradGuard no_grad;
  const int64_t b = static_cast<int64_t>(ids.size());
  std::vector<std::vector<int64_t>> prompts;
  int64_t p = 0;
  for (int64_t index : ids) {
    prompts.push_back(builder.prompt_ids(dataset.question(index)));
    p = std::max<int64_t>(p, static_cast<int64_t>(prompts.back().size()));
  }
  torch::Tensor input_ids = torch::full({b, p}, ev.generation.pad_token_id, torch::kInt64);
  torch::Tensor mask = torch::zeros({b, p}, torch::kInt64);
  for (int64_t i = 0; i < b; ++i) {
    const auto& pr = prompts[static_cast<size_t>(i)];
    const int64_t off = p - static_cast<int64_t>(pr.size());
    for (size_t j = 0; j < pr.size(); ++j) {
      input_ids[i][off + static_cast<int64_t>(j)] = pr[j];
      mask[i][off + static_cast<int64_t>(j)] = 1;
    }
  }
  input_ids = input_ids.to(device);
  mask = mask.to(device);
  model::GenerationInput input;
  if (ev.llava) {
    input = model::llava_generation_input(m.llava, input_ids, mask,
                                          pixel_values(dataset, ids, ev.image_size).to(device));
  } else {
    input.input_ids = input_ids;
    input.attention_mask = mask;
  }
  const model::GenerationResult result =
      model::generate(m.language_model(), input, ev.generation, model::make_cpu_generator(0));
  const torch::Tensor tokens = result.tokens.to(torch::kCPU).contiguous();
  const torch::Tensor lengths = result.lengths.to(torch::kCPU).contiguous();
  const auto& stops = ev.generation.stop_token_ids;
  std::vector<EvalAnswer> out;
  for (int64_t i = 0; i < b; ++i) {
    EvalAnswer a;
    a.index = ids[static_cast<size_t>(i)];
    a.tokens = lengths[i].item<int64_t>();
    std::vector<int32_t> kept;
    for (int64_t t = 0; t < a.tokens; ++t) {
      const int64_t id = tokens[i][t].item<int64_t>();
      if (std::find(stops.begin(), stops.end(), id) != stops.end()) break;
      if (id < ev.tokenizer->vocab_size()) kept.push_back(static_cast<int32_t>(id));  // model vocab padding: dropped
    }
    a.response = ev.tokenizer->decode(kept, /*skip_special=*/true);
    out.push_back(std::move(a));
  }
  return out;
}

// Answers of one rank -> meta [1 + 3 n] (n, then index, tokens, bytes per answer) and bytes
// [1 + total] (a leading 0 so that no tensor is empty).
std::pair<torch::Tensor, torch::Tensor> pack(const std::vector<EvalAnswer>& answers) {
  std::vector<int64_t> meta{static_cast<int64_t>(answers.size())};
  std::vector<uint8_t> bytes{0};
  for (const EvalAnswer& a : answers) {
    meta.push_back(a.index);
    meta.push_back(a.tokens);
    meta.push_back(static_cast<int64_t>(a.response.size()));
    bytes.insert(bytes.end(), a.response.begin(), a.response.end());
  }
  return {torch::tensor(meta, torch::kInt64),
          torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, torch::kUInt8).clone()};
}

void unpack(const torch::Tensor& meta_t, const torch::Tensor& bytes_t, std::vector<EvalAnswer>& out) {
  const torch::Tensor meta = meta_t.to(torch::kCPU).contiguous();
  const torch::Tensor bytes = bytes_t.to(torch::kCPU).contiguous();
  const int64_t* m = meta.data_ptr<int64_t>();
  const char* b = reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()) + 1;
  const int64_t n = m[0];
  RIL_CHECK(meta.numel() == 1 + 3 * n, "eval answers: meta has ", meta.numel(), " values for ", n, " answers");
  int64_t pos = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = m[1 + 3 * i + 2];
    RIL_CHECK(pos + len <= bytes.numel() - 1, "eval answers: text bytes run past the buffer");
    out.push_back({m[1 + 3 * i], m[1 + 3 * i + 1], std::string(b + pos, static_cast<size_t>(len))});
    pos += len;
  }
}

nlohmann::json score_json(const EvalScore& s) {
  nlohmann::json j;
  j["correct"] = s.correct;
  j["total"] = s.total;
  j["accuracy"] = s.accuracy();
  j["mean_response_tokens"] = s.mean_tokens();
  return j;
}

}  // namespace

// ---- models ------------------------------------------------------------------------------------

std::vector<EvalModelSpec> parse_eval_models(const std::vector<std::string>& specs) {
  std::vector<EvalModelSpec> out;
  std::set<std::string> names;
  for (const std::string& s : specs) {
    const size_t eq = s.find('=');
    RIL_CONFIG_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < s.size(), "--model must be NAME=PATH, got '", s,
                     "'");
    EvalModelSpec spec{s.substr(0, eq), s.substr(eq + 1)};
    RIL_CONFIG_CHECK(names.insert(spec.name).second, "ril eval: --model name '", spec.name, "' is given twice");
    out.push_back(std::move(spec));
  }
  return out;
}

EvalModelSource resolve_eval_model(const EvalModelSpec& spec, const std::string& tokenizer_override) {
  EvalModelSource s;
  s.name = spec.name;
  s.path = spec.path;
  const std::string who = cat("ril eval: --model ", spec.name);
  RIL_CONFIG_CHECK(path_exists(spec.path), who, ": '", spec.path, "' does not exist");
  RIL_CONFIG_CHECK(tokenizer_override.empty() || path_exists(tokenizer_override), "ril eval: --tokenizer '",
                   tokenizer_override, "' does not exist");
  if (is_directory(spec.path)) {
    const std::string config_path = (std::filesystem::path(spec.path) / "config.json").string();
    RIL_CONFIG_CHECK(path_exists(config_path), who, ": '", spec.path,
                     "' is a directory without config.json: not an HF-layout model directory");
    s.config_text = read_text_file(config_path);
    const std::string own = (std::filesystem::path(spec.path) / "tokenizer.json").string();
    s.tokenizer_path = tokenizer_override.empty() ? own : tokenizer_override;
    RIL_CONFIG_CHECK(path_exists(s.tokenizer_path), who, ": '", own, "' does not exist; give --tokenizer");
  } else {
    std::optional<io::H5File> file;
    try {
      file.emplace(io::H5File::open(spec.path));
    } catch (const Error& e) {
      throw ConfigError(cat(who, ": ", e.what(), " (PATH must be a model directory or a `ril train` checkpoint)"));
    }
    const std::string kind = file->kind();
    RIL_CONFIG_CHECK(kind == io::kCheckpointKind, who, ": '", spec.path, "' is a ril '", kind,
                     "' file, not a `ril train` checkpoint (kind '", io::kCheckpointKind, "')");
    RIL_CONFIG_CHECK(file->is_group(kStudentGroup) && file->has_attr("/", kStudentConfigAttr), who, ": checkpoint '",
                     spec.path, "' has no student (group '", kStudentGroup, "' and root attribute '",
                     kStudentConfigAttr, "'): not written by `ril train` (for `ril sft`, evaluate the model "
                     "directory it wrote)");
    RIL_CONFIG_CHECK(!file->has_attr("/", "complete") || file->attr_int("/", "complete") == 1, who,
                     ": checkpoint '", spec.path, "' is incomplete (its writer did not finish)");
    s.checkpoint = true;
    s.config_text = file->attr_string("/", kStudentConfigAttr);
    if (file->exists("step") && !file->is_group("step")) s.step = io::read_int64(*file, "step");
    if (!tokenizer_override.empty()) {
      s.tokenizer_path = tokenizer_override;
    } else {
      RIL_CONFIG_CHECK(file->has_attr("/", kStudentTokenizerAttr), who, ": checkpoint '", spec.path,
                       "' names no tokenizer (root attribute '", kStudentTokenizerAttr, "'); give --tokenizer");
      s.tokenizer_path = file->attr_string("/", kStudentTokenizerAttr);
      RIL_CONFIG_CHECK(path_exists(s.tokenizer_path), who, ": the checkpoint's tokenizer '", s.tokenizer_path,
                       "' (attribute ", kStudentTokenizerAttr, " of ", spec.path, ") does not exist; give --tokenizer");
    }
  }
  parse_config_text(s.config_text, config_source(s));  // ConfigError naming the key
  return s;
}

model::PretrainedModel load_eval_model(const EvalModelSource& source) {
  if (!source.checkpoint) return model::load_pretrained(source.path);
  model::PretrainedModel m;
  m.config = parse_config_text(source.config_text, config_source(source));
  const io::H5File file = io::H5File::open(source.path, io::kCheckpointKind);
  model::TensorMap tensors;
  for (auto& [name, tensor] : io::read_tensors(file, kStudentGroup)) tensors.emplace(name, std::move(tensor));
  model::LoadOptions o;
  o.source = cat(source.path, " (group ", kStudentGroup, ")");
  o.ignore_suffixes = {"rotary_emb.inv_freq"};
  if (m.config.kind == model::ModelKind::kLlava) {
    if (m.config.llava.text_config.tie_word_embeddings) o.ignore_prefixes.push_back("language_model.lm_head.");
    o.ignore_prefixes.push_back("vision_tower.vision_model.head.");
    m.llava = model::LlavaForConditionalGeneration(m.config.llava);
    model::load_module_tensors(*m.llava, model::llava_names_to_v4(tensors), o);
  } else {
    if (m.config.qwen2.tie_word_embeddings) o.ignore_prefixes.push_back("lm_head.");
    m.lm = model::Qwen2ForCausalLM(m.config.qwen2);
    model::load_module_tensors(*m.lm, tensors, o);
  }
  return m;
}

// ---- sharding ------------------------------------------------------------------------------------

std::vector<std::vector<int64_t>> eval_batches_for_rank(const std::vector<int64_t>& questions, int64_t batch,
                                                        int rank, int ranks) {
  RIL_CHECK(batch >= 1 && ranks >= 1 && rank >= 0 && rank < ranks, "eval_batches_for_rank: batch ", batch,
            ", rank ", rank, " of ", ranks);
  std::vector<std::vector<int64_t>> out;
  const int64_t n = static_cast<int64_t>(questions.size());
  for (int64_t k = rank; k * batch < n; k += ranks) {
    const auto begin = questions.begin() + static_cast<std::ptrdiff_t>(k * batch);
    const auto end = questions.begin() + static_cast<std::ptrdiff_t>(std::min(n, (k + 1) * batch));
    out.emplace_back(begin, end);
  }
  return out;
}

// ---- scoring and reports ---------------------------------------------------------------------------

EvalModelResult score_answers(const std::vector<EvalQuestion>& questions, const std::vector<EvalAnswer>& answers,
                              const std::vector<std::string>& family_order, const data::AnswerChecker& checker) {
  std::map<int64_t, const EvalAnswer*> by_index;
  for (const EvalAnswer& a : answers) {
    RIL_CHECK(by_index.emplace(a.index, &a).second, "eval: question ", a.index, " was answered twice");
  }
  RIL_CHECK(answers.size() == questions.size(), "eval: ", answers.size(), " answers for ", questions.size(),
            " questions");
  EvalModelResult r;
  std::map<std::string, EvalScore> families;
  for (const EvalQuestion& q : questions) {
    const auto it = by_index.find(q.index);
    RIL_CHECK(it != by_index.end(), "eval: question ", q.index, " has no answer");
    const EvalAnswer& a = *it->second;
    const data::AnswerVerdict v = checker.check(a.response, q.answer, q.question);
    EvalQuestionResult qr;
    qr.index = q.index;
    qr.family = q.family;
    qr.correct = v.correct;
    qr.tokens = a.tokens;
    qr.expected = v.expected;
    qr.extracted = v.extracted;
    qr.reason = v.reason;
    qr.response = a.response;
    for (EvalScore* s : {&families[q.family], &r.overall}) {
      s->correct += v.correct ? 1 : 0;
      s->total += 1;
      s->tokens += a.tokens;
    }
    r.questions.push_back(std::move(qr));
  }
  for (const std::string& f : family_order) {
    const auto it = families.find(f);
    if (it == families.end()) continue;
    r.families.emplace_back(f, it->second);
    families.erase(it);
  }
  for (const auto& [f, s] : families) r.families.emplace_back(f, s);  // not in family_order
  return r;
}

std::string eval_table(const EvalReport& report) {
  // Column 0: model names; then one per family, overall, mean response tokens.
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head{"model"}, counts{""};
  for (const auto& [f, n] : report.families) {
    head.push_back(f);
    counts.push_back(cat("n=", n));
  }
  head.push_back("overall");
  counts.push_back(cat("n=", report.questions));
  head.push_back("tokens");
  counts.push_back("mean");
  rows.push_back(head);
  rows.push_back(counts);
  for (const EvalModelResult& m : report.models) {
    std::vector<std::string> row{m.name};
    for (const auto& [f, n] : report.families) {
      const auto it = std::find_if(m.families.begin(), m.families.end(), [&](const auto& p) { return p.first == f; });
      row.push_back(it == m.families.end() ? "-" : percent(it->second.accuracy()));
    }
    row.push_back(percent(m.overall.accuracy()));
    std::ostringstream tokens;
    tokens << std::fixed << std::setprecision(1) << m.overall.mean_tokens();
    row.push_back(tokens.str());
    rows.push_back(row);
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::ostringstream out;
  out << "ril eval: " << report.dataset << ", split " << report.split << ", " << report.questions
      << " questions, greedy, at most " << report.max_new_tokens << " new tokens\n";
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      line += c == 0 ? row[c] + pad : "  " + pad + row[c];  // names left, numbers right
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  return out.str();
}

std::string eval_json(const EvalReport& report) {
  nlohmann::json j;
  j["ril_version"] = report.ril_version;
  j["command_line"] = report.command_line;
  j["dataset"] = report.dataset;
  j["split"] = report.split;
  j["limit"] = report.limit;
  j["questions"] = report.questions;
  nlohmann::json families = nlohmann::json::object();
  nlohmann::json family_order = nlohmann::json::array();
  for (const auto& [f, n] : report.families) {
    families[f] = n;
    family_order.push_back(f);
  }
  j["family_questions"] = families;
  j["families"] = family_order;
  j["generation"] = {{"greedy", true}, {"max_new_tokens", report.max_new_tokens}, {"batch", report.batch}};
  j["ranks"] = report.ranks;
  nlohmann::json config = nlohmann::json::object();
  for (const auto& [name, value] : report.config) config[name] = value;
  j["config"] = config;
  nlohmann::json models = nlohmann::json::array();
  for (const EvalModelResult& m : report.models) {
    nlohmann::json mj;
    mj["name"] = m.name;
    mj["path"] = m.path;
    mj["source"] = m.source;
    mj["model_type"] = m.model_type;
    mj["tokenizer"] = m.tokenizer;
    if (m.checkpoint_step >= 0) mj["checkpoint_step"] = m.checkpoint_step;
    mj["overall"] = score_json(m.overall);
    nlohmann::json fam = nlohmann::json::object();
    for (const auto& [f, s] : m.families) fam[f] = score_json(s);
    mj["families"] = fam;
    nlohmann::json qs = nlohmann::json::array();
    for (const EvalQuestionResult& q : m.questions) {
      qs.push_back({{"index", q.index},
                    {"family", q.family},
                    {"correct", q.correct},
                    {"tokens", q.tokens},
                    {"expected", q.expected},
                    {"extracted", q.extracted},
                    {"reason", q.reason},
                    {"response", q.response}});
    }
    mj["questions"] = qs;
    models.push_back(mj);
  }
  j["models"] = models;
  // Responses are raw model bytes: invalid UTF-8 is replaced rather than refused.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string current_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  if (!in) return {};
  std::ostringstream raw;
  raw << in.rdbuf();
  const std::string text = raw.str();
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    out += (out.empty() ? "" : " ") + shell_quote(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// ---- the job ------------------------------------------------------------------------------------------

void run_eval_job(const dist::RankGroups& groups, const Config& config) {
  const EvalConfig& e = config.eval;
  // ---- inputs, checked alike on every rank before any weights are read ----
  const std::vector<EvalModelSpec> specs = parse_eval_models(e.models);
  RIL_CONFIG_CHECK(path_exists(e.dataset), "ril eval: --dataset '", e.dataset, "' does not exist");
  std::optional<data::Dataset> opened;
  try {
    opened.emplace(data::Dataset::open(e.dataset));
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& err) {
    throw ConfigError(cat("ril eval: --dataset: ", err.what()));
  }
  const data::Dataset& dataset = *opened;
  std::vector<int64_t> ids = dataset.indices(data::parse_split(e.split));
  const size_t split_size = ids.size();
  if (e.limit > 0 && static_cast<int64_t>(ids.size()) > e.limit) ids.resize(static_cast<size_t>(e.limit));
  RIL_CONFIG_CHECK(!ids.empty(), "ril eval: the ", e.split, " split of ", e.dataset, " is empty (the file has ",
                   dataset.size(), " examples, none in ", e.split, ")");
  std::vector<Evaluator> evaluators;
  for (const EvalModelSpec& spec : specs) evaluators.push_back(prepare(spec, e, dataset));

  dist::Communicator& world = *groups.channel(dist::Channel::kWorld);
  const int rank = world.rank(), ranks = world.size();
  const bool root = rank == 0;
  const at::Device device = groups.device();
  const std::vector<std::vector<int64_t>> batches = eval_batches_for_rank(ids, e.batch, rank, ranks);

  std::vector<EvalQuestion> questions;
  std::vector<std::pair<std::string, int64_t>> family_counts;
  {
    std::map<std::string, int64_t> counts;
    for (int64_t i : ids) {
      questions.push_back({i, dataset.family(i), dataset.question(i), dataset.answer(i)});
      ++counts[dataset.family(i)];
    }
    for (const std::string& f : dataset.family_names()) {
      const auto it = counts.find(f);
      if (it == counts.end()) continue;
      family_counts.emplace_back(f, it->second);
      counts.erase(it);
    }
    for (const auto& [f, n] : counts) family_counts.emplace_back(f, n);
  }
  std::vector<std::string> family_order;
  for (const auto& [f, n] : family_counts) family_order.push_back(f);
  if (root) {
    log_info(kTag, ids.size(), " of ", split_size, " ", e.split, " questions of ", e.dataset, ", ",
             specs.size(), " model(s), batches of ", e.batch, " over ", ranks, " rank(s)");
  }

  EvalReport report;
  report.dataset = e.dataset;
  report.split = e.split;
  report.limit = e.limit;
  report.questions = static_cast<int64_t>(ids.size());
  report.families = family_counts;
  report.batch = e.batch;
  report.max_new_tokens = e.max_new_tokens;
  report.ranks = ranks;
  report.ril_version = version_text();
  report.command_line = root ? current_command_line() : std::string();
  report.config = config.resolved;
  const data::AnswerChecker checker;

  for (Evaluator& ev : evaluators) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<EvalAnswer> mine;
    if (!batches.empty()) {
      model::PretrainedModel m = load_eval_model(ev.source);
      torch::nn::Module& module = ev.llava ? static_cast<torch::nn::Module&>(*m.llava)
                                           : static_cast<torch::nn::Module&>(*m.lm);
      module.to(device);
      module.eval();
      const SftBatchBuilder builder(*ev.tokenizer, ev.prompt_options);
      for (size_t k = 0; k < batches.size(); ++k) {
        std::vector<EvalAnswer> part = answer_batch(ev, m, builder, dataset, batches[k], device);
        mine.insert(mine.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
        if (root) log_debug(kTag, ev.source.name, ": batch ", k + 1, "/", batches.size(), " on rank 0 done");
      }
    }
    auto [meta, bytes] = pack(mine);
    const std::vector<torch::Tensor> metas = world.gather(meta, 0);
    const std::vector<torch::Tensor> texts = world.gather(bytes, 0);
    if (!root) continue;
    std::vector<EvalAnswer> all;
    for (size_t i = 0; i < metas.size(); ++i) unpack(metas[i], texts[i], all);
    EvalModelResult r = score_answers(questions, all, family_order, checker);
    r.name = ev.source.name;
    r.path = ev.source.path;
    r.source = ev.source.checkpoint ? "checkpoint" : "hf_dir";
    r.model_type = model::model_kind_name(ev.config.kind);
    r.tokenizer = ev.source.tokenizer_path;
    r.checkpoint_step = ev.source.step;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log_info(kTag, "model '", r.name, "' (", r.model_type, ", ", r.source, " ", r.path, "): ", r.overall.correct, "/",
             r.overall.total, " correct (", percent(r.overall.accuracy()), "), mean ", std::fixed,
             std::setprecision(1), r.overall.mean_tokens(), " response tokens, ", secs, " s");
    report.models.push_back(std::move(r));
  }
  if (!root) return;

  const std::string table = eval_table(report);
  std::fwrite(table.data(), 1, table.size(), stdout);
  std::fflush(stdout);
  const std::string out = e.out.empty() ? (std::filesystem::path(config.common.run_dir) / "eval.json").string() : e.out;
  const std::filesystem::path out_path(out);
  if (out_path.has_parent_path()) std::filesystem::create_directories(out_path.parent_path());
  const std::string json = eval_json(report);
  io::AtomicFile atomic(out);
  {
    std::ofstream f(atomic.temp_path(), std::ios::binary);
    f.write(json.data(), static_cast<std::streamsize>(json.size()));
    f.close();
    if (!f) throw Error(cat("cannot write ", atomic.temp_path()));
  }
  atomic.commit();
  log_info(kTag, "results written to ", out);
}

}  // namespace ril::roles
