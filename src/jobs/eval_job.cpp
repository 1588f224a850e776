#include "ril/jobs/eval_job.h"

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
#include "ril/common/paths.h"
#include "ril/data/dataset.h"
#include "ril/io/atomic_file.h"
#include "ril/dist/byte_codec.h"
#include "ril/dist/host_messages.h"
#include "ril/io/checkpoint_schema.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_file.h"
#include "ril/io/module_state.h"
#include "ril/model/checkpoint.h"
#include "ril/model/generator.h"
#include "ril/model/model_config.h"
#include "ril/roles/generation_budget.h"
#include "ril/roles/greedy_answerer.h"
#include "ril/roles/judge.h"
#include "ril/roles/sft_batch.h"
#include "ril/text/bpe_tokenizer.h"

namespace ril::jobs {
namespace {

using roles::EvalAnswer;
using roles::GreedyAnswerer;

constexpr const char* kTag = "eval";
constexpr const char* kStudentGroup = io::checkpoint_names::kStudent;
constexpr const char* kStudentConfigAttr = io::checkpoint_names::kStudentConfig;
constexpr const char* kStudentTokenizerAttr = io::checkpoint_names::kStudentTokenizer;

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
  std::unique_ptr<GreedyAnswerer> answerer;
};

// Every check that needs no weights; ConfigError alike on every rank.
// `questions`: the ones it will answer (the generation budget must fit each prompt).
Evaluator prepare(const EvalModelSpec& spec, const EvalConfig& e, const data::Dataset& dataset,
                  const std::vector<int64_t>& questions) {
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
  ev.answerer = std::make_unique<GreedyAnswerer>(
      *ev.tokenizer, ev.config, dataset, e.max_new_tokens,
      cat(who, " (tokenizer ", ev.source.tokenizer_path, ", model ", config_source(ev.source), ")"));
  roles::GenerationBudget budget;
  budget.option = "--max-new-tokens";
  budget.max_new_tokens = e.max_new_tokens;
  budget.model = cat("the model ", config_source(ev.source));
  budget.max_positions = ev.config.text().max_position_embeddings;
  try {
    roles::check_generation_budget(budget, roles::longest_prompt(ev.answerer->prompts(), dataset, questions));
  } catch (const ConfigError& err) {
    throw ConfigError(cat(who, ": ", err.what()));
  }
  if (ev.config.kind == model::ModelKind::kLlava) {
    const int64_t size = ev.config.llava.vision_config.image_size;
    if (dataset.image_height() != size || dataset.image_width() != size) {
      log_debug(kTag, spec.name, ": dataset images ", dataset.image_height(), "x", dataset.image_width(),
                " are resized to ", size, "x", size);
    }
  }
  return ev;
}

// Answers of one rank as one host message (dist/byte_codec.h): count, then per answer its
// index, token count and response text.
std::string encode_answers(const std::vector<EvalAnswer>& answers) {
  dist::ByteWriter out;
  out.put<int64_t>(static_cast<int64_t>(answers.size()));
  for (const EvalAnswer& a : answers) {
    out.put<int64_t>(a.index);
    out.put<int64_t>(a.tokens);
    out.put_string(a.response);
  }
  return out.take();
}

void decode_answers(const std::string& bytes, std::vector<EvalAnswer>& out) {
  dist::ByteReader in(bytes);
  const int64_t n = in.get<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    EvalAnswer a;
    a.index = in.get<int64_t>();
    a.tokens = in.get<int64_t>();
    a.response = in.get_string();
    out.push_back(std::move(a));
  }
  in.expect_done("eval answers");
}

// A rank's judge verdicts as one host message: count, then index, decision, tokens, reason.
std::string encode_judgements(const std::vector<EvalJudgement>& judgements) {
  dist::ByteWriter out;
  out.put<int64_t>(static_cast<int64_t>(judgements.size()));
  for (const EvalJudgement& j : judgements) {
    out.put<int64_t>(j.index);
    out.put<int32_t>(static_cast<int32_t>(j.decision));
    out.put<int64_t>(j.tokens);
    out.put_string(j.reason);
  }
  return out.take();
}

void decode_judgements(const std::string& bytes, std::vector<EvalJudgement>& out) {
  dist::ByteReader in(bytes);
  const int64_t n = in.get<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    EvalJudgement j;
    j.index = in.get<int64_t>();
    j.decision = static_cast<algo::JudgeDecision>(in.get<int32_t>());
    j.tokens = in.get<int64_t>();
    j.reason = in.get_string();
    out.push_back(std::move(j));
  }
  in.expect_done("judge verdicts");
}

// The judge's verdicts on one rank's answers, in batches of `batch`.
std::vector<EvalJudgement> judge_answers(roles::JudgeModel& judge, const std::vector<EvalAnswer>& answers,
                                         const data::Dataset& dataset, int64_t batch, at::Device device) {
  std::vector<EvalJudgement> out;
  for (size_t begin = 0; begin < answers.size(); begin += static_cast<size_t>(batch)) {
    const size_t end = std::min(answers.size(), begin + static_cast<size_t>(batch));
    std::vector<roles::JudgeItem> items;
    for (size_t i = begin; i < end; ++i) {
      items.push_back({dataset.question(answers[i].index), dataset.answer(answers[i].index), answers[i].response});
    }
    std::vector<roles::JudgeOutput> verdicts = judge.judge(items, device);
    for (size_t i = begin; i < end; ++i) {
      roles::JudgeOutput& v = verdicts[i - begin];
      out.push_back({answers[i].index, v.verdict.decision, std::move(v.verdict.reason), v.tokens});
    }
  }
  return out;
}

nlohmann::json score_json(const EvalScore& s) {
  nlohmann::json j;
  j["correct"] = s.correct;
  j["total"] = s.total;
  j["accuracy"] = s.accuracy();
  j["mean_response_tokens"] = s.mean_tokens();
  j["unparsed"] = s.unparsed;
  j["unparsed_share"] = s.unparsed_share();
  if (s.judged > 0) {
    j["judge"] = {{"judged", s.judged},
                  {"correct", s.judge_correct},
                  {"accuracy", s.judge_share(s.judge_correct)},
                  {"agree_with_rule", s.judge_agree},
                  {"agreement", s.judge_share(s.judge_agree)},
                  {"unparsed", s.judge_unparsed},
                  {"unparsed_share", s.judge_share(s.judge_unparsed)},
                  {"false_positive", s.judge_false_positive},
                  {"false_positive_rate", s.judge_false_positive_rate()},
                  {"false_negative", s.judge_false_negative},
                  {"false_negative_rate", s.judge_false_negative_rate()}};
  }
  return j;
}

nlohmann::json interval_json(const algo::BootstrapInterval& i) {
  return {{"difference", i.difference}, {"low", i.low}, {"high", i.high}, {"questions", i.n},
          {"excludes_zero", i.excludes_zero()}};
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
                     kStudentConfigAttr, "'): not a `ril train` or `ril sft` checkpoint of this version (for "
                     "an older `ril sft` checkpoint, evaluate the model directory it wrote)");
    RIL_CONFIG_CHECK(!file->has_attr("/", "complete") || file->attr_int("/", "complete") == 1, who,
                     ": checkpoint '", spec.path, "' is incomplete (its writer did not finish)");
    s.checkpoint = true;
    s.config_text = file->attr_string("/", kStudentConfigAttr);
    const char* step = io::checkpoint_names::kStep;
    if (file->exists(step) && !file->is_group(step)) s.step = io::read_int64(*file, step);
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
  model::PretrainedModel m = model::PretrainedModel::build(parse_config_text(source.config_text, config_source(source)));
  const io::H5File file = io::H5File::open(source.path, io::kCheckpointKind);
  model::TensorMap tensors;
  for (auto& [name, tensor] : io::read_tensors(file, kStudentGroup)) tensors.emplace(name, std::move(tensor));
  // The checkpoint holds the modules' own names (the 4.x HF names every loader accepts).
  m.load_tensors(tensors, cat(source.path, " (group ", kStudentGroup, ")"));
  return m;
}

// ---- scoring and reports ---------------------------------------------------------------------------

EvalModelResult score_answers(const std::vector<EvalQuestion>& questions, const std::vector<EvalAnswer>& answers,
                              const std::vector<std::string>& family_order, const data::AnswerChecker& checker,
                              const std::vector<EvalJudgement>& judgements) {
  std::map<int64_t, const EvalJudgement*> judged;
  for (const EvalJudgement& j : judgements) {
    RIL_CHECK(judged.emplace(j.index, &j).second, "eval: question ", j.index, " was judged twice");
  }
  RIL_CHECK(judgements.empty() || judgements.size() == answers.size(), "eval: ", judgements.size(),
            " judge verdicts for ", answers.size(), " answers");
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
    const EvalJudgement* jv = nullptr;
    if (!judged.empty()) {
      const auto jt = judged.find(q.index);
      RIL_CHECK(jt != judged.end(), "eval: question ", q.index, " has no judge verdict");
      jv = jt->second;
      qr.judge = algo::judge_decision_name(jv->decision);
      qr.judge_reason = jv->reason;
    }
    for (EvalScore* s : {&families[q.family], &r.overall}) {
      s->correct += v.correct ? 1 : 0;
      s->total += 1;
      s->tokens += a.tokens;
      s->unparsed += v.extracted.empty() ? 1 : 0;
      if (jv != nullptr) {
        const bool judge_says_correct = jv->decision == algo::JudgeDecision::kCorrect;
        s->judged += 1;
        s->judge_correct += judge_says_correct ? 1 : 0;
        s->judge_unparsed += jv->decision == algo::JudgeDecision::kUnparsed ? 1 : 0;
        s->judge_agree += judge_says_correct == v.correct ? 1 : 0;
        s->judged_rule_correct += v.correct ? 1 : 0;
        s->judge_false_positive += judge_says_correct && !v.correct ? 1 : 0;
        s->judge_false_negative += !judge_says_correct && v.correct ? 1 : 0;
      }
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

namespace {

std::string fixed(double v, int digits, bool sign = false) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << (sign ? std::showpos : std::noshowpos) << v;
  return out.str();
}

// "+12.3 [+8.1, +16.4]" in points.
std::string interval_text(const algo::BootstrapInterval& i) {
  return cat(fixed(100 * i.difference, 1, true), " [", fixed(100 * i.low, 1, true), ", ", fixed(100 * i.high, 1, true),
             "]");
}

const EvalScore* family_score(const EvalModelResult& m, const std::string& family) {
  if (family.empty()) return &m.overall;
  const auto it = std::find_if(m.families.begin(), m.families.end(), [&](const auto& p) { return p.first == family; });
  return it == m.families.end() ? nullptr : &it->second;
}

// Aligned text table: first column left, the rest right.
std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      line += c == 0 ? row[c] + pad : "  " + pad + row[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string eval_table(const EvalReport& report) {
  // Rows: families, then overall ("" = overall).
  std::vector<std::pair<std::string, int64_t>> rows = report.families;
  rows.emplace_back("", report.questions);
  auto block = [&](const std::string& title, bool with_comparisons, auto&& cell) {
    std::vector<std::vector<std::string>> t;
    std::vector<std::string> head{title, "n"};
    for (const EvalModelResult& m : report.models) head.push_back(m.name);
    if (with_comparisons) {
      for (const EvalComparison& c : report.comparisons) head.push_back(cat(c.a, " - ", c.b, " [95% CI]"));
    }
    t.push_back(head);
    for (size_t r = 0; r < rows.size(); ++r) {
      const std::string& f = rows[r].first;
      std::vector<std::string> line{f.empty() ? "overall" : f, cat(rows[r].second)};
      for (const EvalModelResult& m : report.models) {
        const EvalScore* s = family_score(m, f);
        line.push_back(s ? cell(*s) : "-");
      }
      if (with_comparisons) {
        for (const EvalComparison& c : report.comparisons) {
          line.push_back(f.empty() ? interval_text(c.overall)
                                   : (r < c.families.size() ? interval_text(c.families[r].second) : "-"));
        }
      }
      t.push_back(line);
    }
    return aligned(t);
  };
  std::ostringstream out;
  out << "ril eval: " << report.dataset << ", split " << report.split << ", " << report.questions
      << " questions, greedy, at most " << report.max_new_tokens << " new tokens\n";
  out << block("accuracy (%)", true, [](const EvalScore& s) { return fixed(100 * s.accuracy(), 1); });
  out << block("mean tokens", false, [](const EvalScore& s) { return fixed(s.mean_tokens(), 1); });
  out << block("unparsed (%)", false, [](const EvalScore& s) { return fixed(100 * s.unparsed_share(), 1); });
  if (!report.judge.empty()) {
    out << block("judge accuracy (%)", false, [](const EvalScore& s) { return fixed(100 * s.judge_share(s.judge_correct), 1); });
    out << block("judge = rule (%)", false, [](const EvalScore& s) { return fixed(100 * s.judge_share(s.judge_agree), 1); });
    out << block("judge unparsed (%)", false,
                 [](const EvalScore& s) { return fixed(100 * s.judge_share(s.judge_unparsed), 1); });
    out << block("judge false positive (%, of rule-wrong)", false,
                 [](const EvalScore& s) { return fixed(100 * s.judge_false_positive_rate(), 1); });
    out << block("judge false negative (%, of rule-right)", false,
                 [](const EvalScore& s) { return fixed(100 * s.judge_false_negative_rate(), 1); });
    const double rate = report.judge_seconds > 0 ? static_cast<double>(report.judge_tokens) / report.judge_seconds : 0.0;
    out << "judge: " << report.judge << " (prompt " << report.judge_prompt << ", at most " << report.judge_max_new_tokens
        << " tokens per verdict; an unparsed or cut verdict counts 0), " << report.judge_tokens << " tokens in "
        << fixed(report.judge_seconds, 1) << " s on rank 0 (" << fixed(rate, 1) << " tokens/s)\n";
  }
  if (!report.comparisons.empty()) {
    out << "A - B: accuracy difference in points on the same questions, 95 % paired bootstrap interval\n";
  }
  return out.str();
}

std::vector<std::pair<std::string, std::string>> parse_eval_comparisons(const std::vector<std::string>& specs,
                                                                        const std::vector<EvalModelSpec>& models) {
  std::vector<std::pair<std::string, std::string>> out;
  auto known = [&](const std::string& name) {
    return std::any_of(models.begin(), models.end(), [&](const EvalModelSpec& m) { return m.name == name; });
  };
  for (const std::string& spec : specs) {
    const size_t colon = spec.find(':');
    RIL_CONFIG_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < spec.size(),
                     "ril eval: --compare must be A:B (two --model names), got '", spec, "'");
    const std::string a = spec.substr(0, colon), b = spec.substr(colon + 1);
    RIL_CONFIG_CHECK(known(a) && known(b), "ril eval: --compare ", spec, ": ", known(a) ? b : a,
                     " is not the name of a --model");
    RIL_CONFIG_CHECK(a != b, "ril eval: --compare ", spec, " compares a model with itself");
    out.emplace_back(a, b);
  }
  return out;
}

EvalComparison compare_models(const EvalModelResult& a, const EvalModelResult& b) {
  RIL_CHECK(a.questions.size() == b.questions.size(), "eval: ", a.name, " and ", b.name,
            " answered different questions");
  EvalComparison c;
  c.a = a.name;
  c.b = b.name;
  auto outcomes = [](const EvalModelResult& m, const std::string& family) {
    std::vector<double> v;
    for (const EvalQuestionResult& q : m.questions) {
      if (family.empty() || q.family == family) v.push_back(q.correct ? 1.0 : 0.0);
    }
    return v;
  };
  for (size_t i = 0; i < a.questions.size(); ++i) {
    RIL_CHECK(a.questions[i].index == b.questions[i].index, "eval: ", a.name, " and ", b.name,
              " list their questions in different orders");
  }
  for (const auto& [f, score] : a.families) c.families.emplace_back(f, algo::paired_bootstrap(outcomes(a, f), outcomes(b, f)));
  c.overall = algo::paired_bootstrap(outcomes(a, ""), outcomes(b, ""));
  return c;
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
      if (!q.judge.empty()) {
        qs.back()["judge"] = q.judge;
        qs.back()["judge_reason"] = q.judge_reason;
      }
    }
    mj["questions"] = qs;
    models.push_back(mj);
  }
  j["models"] = models;
  if (!report.judge.empty()) {
    j["judge"] = {{"model", report.judge},
                  {"prompt", report.judge_prompt},
                  {"max_new_tokens", report.judge_max_new_tokens},
                  {"tokens_rank0", report.judge_tokens},
                  {"seconds_rank0", report.judge_seconds}};
  }
  nlohmann::json comparisons = nlohmann::json::array();
  for (const EvalComparison& c : report.comparisons) {
    nlohmann::json fam = nlohmann::json::object();
    for (const auto& [f, i] : c.families) fam[f] = interval_json(i);
    comparisons.push_back({{"a", c.a}, {"b", c.b}, {"level", 0.95}, {"method", "paired bootstrap over questions"},
                           {"overall", interval_json(c.overall)}, {"families", fam}});
  }
  j["comparisons"] = comparisons;
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
  const std::vector<std::pair<std::string, std::string>> comparisons = parse_eval_comparisons(e.compare, specs);
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
  for (const EvalModelSpec& spec : specs) evaluators.push_back(prepare(spec, e, dataset, ids));
  std::unique_ptr<roles::JudgeModel> judge;
  if (!e.judge.empty()) {  // every check before any weights load, alike on every rank
    algo::JudgePrompt prompt = e.judge_prompt.empty() ? algo::JudgePrompt() : algo::JudgePrompt::from_file(e.judge_prompt);
    judge = std::make_unique<roles::JudgeModel>(e.judge, std::move(prompt), e.judge_max_new_tokens, "ril eval: --judge");
  }

  dist::Communicator& world = *groups.channel(dist::Channel::kWorld);
  const int rank = world.rank(), ranks = world.size();
  const bool root = rank == 0;
  const at::Device device = groups.device();
  const std::vector<std::vector<int64_t>> batches = roles::eval_batches_for_rank(ids, e.batch, rank, ranks);

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
  if (judge) {
    report.judge = e.judge;
    report.judge_prompt = e.judge_prompt.empty() ? std::string("built-in") : e.judge_prompt;
    report.judge_max_new_tokens = e.judge_max_new_tokens;
  }
  const data::AnswerChecker checker;

  for (Evaluator& ev : evaluators) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<EvalAnswer> mine;
    if (!batches.empty()) {
      model::PretrainedModel m = load_eval_model(ev.source);
      torch::nn::Module& module = m.module();
      module.to(device);
      module.eval();
      for (size_t k = 0; k < batches.size(); ++k) {
        std::vector<EvalAnswer> part = ev.answerer->answer(m, dataset, batches[k], device);
        mine.insert(mine.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
        if (root) log_debug(kTag, ev.source.name, ": batch ", k + 1, "/", batches.size(), " on rank 0 done");
      }
    }
    std::vector<EvalJudgement> my_verdicts;
    if (judge && !mine.empty()) {
      const auto judge_start = std::chrono::steady_clock::now();
      my_verdicts = judge_answers(*judge, mine, dataset, e.batch, device);
      if (root) {
        report.judge_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - judge_start).count();
        for (const EvalJudgement& v : my_verdicts) report.judge_tokens += v.tokens;
      }
    }
    const std::vector<std::string> parts = dist::gather_bytes(world, encode_answers(mine), 0);
    const std::vector<std::string> verdict_parts =
        judge ? dist::gather_bytes(world, encode_judgements(my_verdicts), 0) : std::vector<std::string>();
    if (!root) continue;
    std::vector<EvalAnswer> all;
    for (const std::string& part : parts) decode_answers(part, all);
    std::vector<EvalJudgement> verdicts;
    for (const std::string& part : verdict_parts) decode_judgements(part, verdicts);
    EvalModelResult r = score_answers(questions, all, family_order, checker, verdicts);
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
  auto by_name = [&](const std::string& name) -> const EvalModelResult& {
    return *std::find_if(report.models.begin(), report.models.end(), [&](const EvalModelResult& m) { return m.name == name; });
  };
  for (const auto& [a, b] : comparisons) report.comparisons.push_back(compare_models(by_name(a), by_name(b)));

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

}  // namespace ril::jobs
