// `ril eval` pieces that need no ranks: --model specs, the batch sharding (the same batches
// whatever the rank count), scoring and per-family aggregation, the table and the JSON, and
// models from train checkpoints (student tensors + config text) loaded exactly.
#include "ril/jobs/eval_job.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/io/checkpoint_store.h"
#include "ril/io/h5_file.h"
#include "ril/io/module_state.h"
#include "ril/model/checkpoint.h"
#include "ril/model/model_config.h"
#include "ril/text/bpe_tokenizer.h"
#include "support/byte_tokenizer.h"
#include "support/temp_dir.h"

namespace ril::jobs {
namespace {

template <typename F>
std::string config_error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a ConfigError: ") + e.what();
  }
  return "no error";
}

TEST(EvalModels, SpecsAreNameEqualsPath) {
  const auto specs = parse_eval_models({"sft=/runs/a/model", "rl=/runs/b/ckpt.h5=x"});
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "sft");
  EXPECT_EQ(specs[0].path, "/runs/a/model");
  EXPECT_EQ(specs[1].path, "/runs/b/ckpt.h5=x");  // only the first '=' splits
  EXPECT_NE(config_error_of([] { parse_eval_models({"a=/x", "a=/y"}); }).find("'a' is given twice"),
            std::string::npos);
  EXPECT_NE(config_error_of([] { parse_eval_models({"/x"}); }).find("NAME=PATH"), std::string::npos);
}

TEST(EvalSharding, BatchesDoNotDependOnTheRankCount) {
  std::vector<int64_t> q;
  for (int64_t i = 0; i < 23; ++i) q.push_back(100 + 3 * i);
  const auto one = eval_batches_for_rank(q, 4, 0, 1);
  ASSERT_EQ(one.size(), 6u);
  EXPECT_EQ(one.back(), (std::vector<int64_t>{100 + 3 * 20, 100 + 3 * 21, 100 + 3 * 22}));
  for (int ranks : {2, 3, 4, 7, 9}) {
    std::vector<std::vector<int64_t>> seen(one.size());
    for (int r = 0; r < ranks; ++r) {
      const auto mine = eval_batches_for_rank(q, 4, r, ranks);
      for (size_t j = 0; j < mine.size(); ++j) {
        const size_t k = static_cast<size_t>(r) + j * static_cast<size_t>(ranks);  // global batch index
        ASSERT_LT(k, one.size());
        EXPECT_EQ(mine[j], one[k]) << "rank " << r << " of " << ranks;
        seen[k] = mine[j];
      }
    }
    EXPECT_EQ(seen, one) << ranks << " ranks";
  }
  EXPECT_TRUE(eval_batches_for_rank({}, 4, 0, 1).empty());
}

std::vector<EvalQuestion> questions() {
  return {{10, "counting", "How many red squares are there?", "3"},
          {11, "counting", "How many circles?", "2"},
          {12, "colour", "What colour is the triangle?", "green"},
          {13, "yesno", "Is there a blue circle?", "yes"},
          {14, "colour", "What colour is the square?", "red"}};
}

TEST(EvalScoring, PerFamilyAndOverall) {
  const std::vector<EvalAnswer> answers = {
      {14, 9, "It is blue. Answer: blue"},          // wrong
      {10, 5, "I count three. Answer: 3"},          // right
      {12, 7, "Answer: green"},                     // right
      {11, 4, "Answer: 2 or 3"},                    // wrong (two candidates)
      {13, 3, "Answer: yes"},                       // right
  };
  const data::AnswerChecker checker;
  const EvalModelResult r = score_answers(questions(), answers, {"colour", "counting", "yesno", "unused"}, checker);
  EXPECT_EQ(r.overall.correct, 3);
  EXPECT_EQ(r.overall.total, 5);
  EXPECT_EQ(r.overall.tokens, 28);
  EXPECT_DOUBLE_EQ(r.overall.accuracy(), 0.6);
  EXPECT_DOUBLE_EQ(r.overall.mean_tokens(), 5.6);
  ASSERT_EQ(r.families.size(), 3u);  // "unused" has no questions
  EXPECT_EQ(r.families[0].first, "colour");
  EXPECT_EQ(r.families[0].second.correct, 1);
  EXPECT_EQ(r.families[0].second.total, 2);
  EXPECT_EQ(r.families[0].second.tokens, 16);
  EXPECT_EQ(r.families[1].first, "counting");
  EXPECT_EQ(r.families[1].second.correct, 1);
  EXPECT_EQ(r.families[2].first, "yesno");
  EXPECT_DOUBLE_EQ(r.families[2].second.accuracy(), 1.0);
  ASSERT_EQ(r.questions.size(), 5u);
  EXPECT_EQ(r.questions[0].index, 10);  // question order, not answer order
  EXPECT_TRUE(r.questions[0].correct);
  EXPECT_EQ(r.questions[0].extracted, "3");
  EXPECT_FALSE(r.questions[4].correct);
  EXPECT_EQ(r.questions[4].expected, "red");
  EXPECT_EQ(r.questions[4].extracted, "blue");
  EXPECT_EQ(r.questions[4].response, "It is blue. Answer: blue");

  // A family missing from the order is appended; every question needs exactly one answer.
  const EvalModelResult r2 = score_answers(questions(), answers, {"counting"}, checker);
  ASSERT_EQ(r2.families.size(), 3u);
  EXPECT_EQ(r2.families[0].first, "counting");
  EXPECT_EQ(r2.families[1].first, "colour");
  std::vector<EvalAnswer> twice = answers;
  twice[0].index = 10;
  EXPECT_THROW(score_answers(questions(), twice, {}, checker), Error);
  std::vector<EvalAnswer> fewer(answers.begin(), answers.end() - 1);
  EXPECT_THROW(score_answers(questions(), fewer, {}, checker), Error);
}

// --judge: the judge's verdicts are counted beside the rule checker's; an unparsed verdict counts
// as 0 (so it agrees with a wrong answer); every answer needs exactly one verdict.
TEST(EvalScoring, JudgeVerdictsBesideTheRuleChecker) {
  using algo::JudgeDecision;
  const std::vector<EvalAnswer> answers = {
      {14, 9, "It is blue. Answer: blue"},  // rule: wrong
      {10, 5, "I count three. Answer: 3"},  // rule: right
      {12, 7, "Answer: green"},             // rule: right
      {11, 4, "Answer: 2 or 3"},            // rule: wrong
      {13, 3, "Answer: yes"},               // rule: right
  };
  const std::vector<EvalJudgement> verdicts = {
      {10, JudgeDecision::kCorrect, "parsed", 20},   // agrees
      {11, JudgeDecision::kWrong, "parsed", 21},     // agrees
      {12, JudgeDecision::kUnparsed, "no <answer> tag", 30},  // counts 0: disagrees with a right answer
      {13, JudgeDecision::kWrong, "parsed", 22},     // disagrees
      {14, JudgeDecision::kUnparsed, "cut at --judge-max-new-tokens 96", 96},  // 0 = wrong: agrees
  };
  const data::AnswerChecker checker;
  const EvalModelResult r = score_answers(questions(), answers, {"counting", "colour", "yesno"}, checker, verdicts);
  EXPECT_EQ(r.overall.correct, 3);  // the rule checker's figures do not change
  EXPECT_EQ(r.overall.judged, 5);
  EXPECT_EQ(r.overall.judge_correct, 1);
  EXPECT_EQ(r.overall.judge_unparsed, 2);
  EXPECT_EQ(r.overall.judge_agree, 3);
  EXPECT_DOUBLE_EQ(r.overall.judge_share(r.overall.judge_correct), 0.2);
  // Disagreements: 12 (rule right, unparsed) and 13 (rule right, judged wrong) are false
  // negatives; no answer the rule calls wrong was judged right.
  EXPECT_EQ(r.overall.judged_rule_correct, 3);
  EXPECT_EQ(r.overall.judge_false_negative, 2);
  EXPECT_EQ(r.overall.judge_false_positive, 0);
  EXPECT_DOUBLE_EQ(r.overall.judge_false_negative_rate(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.overall.judge_false_positive_rate(), 0.0);
  ASSERT_EQ(r.families[0].first, "counting");
  EXPECT_EQ(r.families[0].second.judge_correct, 1);
  EXPECT_EQ(r.families[0].second.judge_agree, 2);
  ASSERT_EQ(r.families[1].first, "colour");
  EXPECT_EQ(r.families[1].second.judge_unparsed, 2);
  EXPECT_EQ(r.families[1].second.judge_agree, 1);
  EXPECT_EQ(r.questions[2].judge, "unparsed");  // question 12
  EXPECT_EQ(r.questions[2].judge_reason, "no <answer> tag");
  EXPECT_EQ(r.questions[0].judge, "correct");

  // Without verdicts nothing is judged; a missing or repeated verdict is an error.
  EXPECT_EQ(score_answers(questions(), answers, {}, checker).overall.judged, 0);
  EXPECT_TRUE(score_answers(questions(), answers, {}, checker).questions[0].judge.empty());
  std::vector<EvalJudgement> fewer(verdicts.begin(), verdicts.end() - 1);
  EXPECT_THROW(score_answers(questions(), answers, {}, checker, fewer), Error);
  std::vector<EvalJudgement> twice = verdicts;
  twice[1].index = 10;
  EXPECT_THROW(score_answers(questions(), answers, {}, checker, twice), Error);

  // The table gains the judge's three blocks and its line; the JSON its figures.
  EvalReport rep;
  rep.dataset = "/d.h5";
  rep.split = "test";
  rep.questions = 5;
  rep.families = {{"counting", 2}, {"colour", 2}, {"yesno", 1}};
  rep.judge = "/judge";
  rep.judge_prompt = "built-in";
  rep.judge_max_new_tokens = 96;
  rep.judge_tokens = 189;
  rep.judge_seconds = 2.0;
  EvalModelResult m = r;
  m.name = "student";
  rep.models.push_back(m);
  const std::string table = eval_table(rep);
  // The "overall" line of the block titled `title`.
  auto overall_of = [&](const std::string& title) {
    const size_t at = table.find(title);
    if (at == std::string::npos) return std::string("no block ") + title;
    const size_t line = table.find("\noverall", at);
    return table.substr(line + 1, table.find('\n', line + 1) - line - 1);
  };
  EXPECT_EQ(overall_of("accuracy (%)").substr(overall_of("accuracy (%)").size() - 4), "60.0") << table;
  EXPECT_EQ(overall_of("judge accuracy (%)").substr(overall_of("judge accuracy (%)").size() - 4), "20.0") << table;
  EXPECT_EQ(overall_of("judge = rule (%)").substr(overall_of("judge = rule (%)").size() - 4), "60.0") << table;
  EXPECT_EQ(overall_of("judge unparsed (%)").substr(overall_of("judge unparsed (%)").size() - 4), "40.0") << table;
  EXPECT_EQ(overall_of("judge false positive (%, of rule-wrong)").substr(overall_of("judge false positive (%, of rule-wrong)").size() - 3), "0.0") << table;
  EXPECT_EQ(overall_of("judge false negative (%, of rule-right)").substr(overall_of("judge false negative (%, of rule-right)").size() - 4), "66.7") << table;
  EXPECT_NE(table.find("189 tokens in 2.0 s on rank 0 (94.5 tokens/s)"), std::string::npos) << table;
  const nlohmann::json j = nlohmann::json::parse(eval_json(rep));
  EXPECT_EQ(j["judge"]["model"], "/judge");
  EXPECT_EQ(j["models"][0]["overall"]["judge"]["agree_with_rule"], 3);
  EXPECT_DOUBLE_EQ(j["models"][0]["overall"]["judge"]["accuracy"].get<double>(), 0.2);
  EXPECT_EQ(j["models"][0]["overall"]["judge"]["false_negative"], 2);
  EXPECT_EQ(j["models"][0]["overall"]["judge"]["false_positive"], 0);
  EXPECT_DOUBLE_EQ(j["models"][0]["overall"]["judge"]["false_negative_rate"].get<double>(), 2.0 / 3.0);
  EXPECT_EQ(j["models"][0]["questions"][2]["judge"], "unparsed");
}

EvalReport report() {
  const data::AnswerChecker checker;
  EvalReport rep;
  rep.dataset = "/data/ds.h5";
  rep.split = "test";
  rep.limit = 5;
  rep.questions = 5;
  rep.families = {{"counting", 2}, {"colour", 2}, {"yesno", 1}};
  rep.batch = 2;
  rep.max_new_tokens = 32;
  rep.ranks = 4;
  rep.ril_version = "ril test";
  rep.command_line = "ril eval --model a=/m";
  rep.config = {{"dataset", "/data/ds.h5"}, {"split", "test"}};
  EvalModelResult a = score_answers(questions(),
                                    {{10, 4, "Answer: 3"}, {11, 4, "Answer: 2"}, {12, 4, "Answer: green"},
                                     {13, 4, "Answer: no"}, {14, 4, "Answer: red"}},
                                    {"counting", "colour", "yesno"}, checker);
  a.name = "sft";
  a.path = "/runs/sft/model";
  a.source = "hf_dir";
  a.model_type = "llava";
  a.tokenizer = "/runs/sft/model/tokenizer.json";
  EvalModelResult b = score_answers(questions(),
                                    {{10, 10, "no idea"}, {11, 2, "Answer: 2"}, {12, 2, "Answer: red"},
                                     {13, 2, "Answer: yes"}, {14, 2, "\xff\xfe Answer: red"}},
                                    {"counting", "colour", "yesno"}, checker);
  b.name = "ril-step-40";
  b.path = "/runs/ril/checkpoints/step-000040.h5";
  b.source = "checkpoint";
  b.model_type = "llava";
  b.checkpoint_step = 40;
  rep.models = {a, b};
  return rep;
}

TEST(EvalReport, Table) {
  const std::string table = eval_table(report());
  const std::string expected =
      "ril eval: /data/ds.h5, split test, 5 questions, greedy, at most 32 new tokens\n"
      "accuracy (%)  n    sft  ril-step-40\n"
      "counting      2  100.0         50.0\n"
      "colour        2  100.0         50.0\n"
      "yesno         1    0.0        100.0\n"
      "overall       5   80.0         60.0\n"
      "mean tokens  n  sft  ril-step-40\n"
      "counting     2  4.0          6.0\n"
      "colour       2  4.0          2.0\n"
      "yesno        1  4.0          2.0\n"
      "overall      5  4.0          3.6\n"
      "unparsed (%)  n  sft  ril-step-40\n"
      "counting      2  0.0         50.0\n"
      "colour        2  0.0          0.0\n"
      "yesno         1  0.0          0.0\n"
      "overall       5  0.0         20.0\n";
  EXPECT_EQ(table, expected) << table;
}

TEST(EvalReport, ComparisonWithPairedInterval) {
  EvalReport rep = report();
  rep.comparisons = {compare_models(rep.models[1], rep.models[0])};  // ril-step-40 - sft
  const EvalComparison& c = rep.comparisons[0];
  // Per question (b - a): counting {-1, 0}, colour {-1, 0}, yesno {+1}; overall mean -0.2.
  EXPECT_DOUBLE_EQ(c.overall.difference, -0.2);
  ASSERT_EQ(c.families.size(), 3u);
  EXPECT_EQ(c.families[0].first, "counting");
  EXPECT_DOUBLE_EQ(c.families[0].second.difference, -0.5);
  EXPECT_DOUBLE_EQ(c.families[0].second.low, -1.0);  // two questions: resampled means -1, -0.5, 0
  EXPECT_DOUBLE_EQ(c.families[0].second.high, 0.0);
  EXPECT_DOUBLE_EQ(c.families[2].second.low, 1.0);   // one question, always +1
  EXPECT_TRUE(c.families[2].second.excludes_zero());
  EXPECT_FALSE(c.overall.excludes_zero());
  const std::string table = eval_table(rep);
  EXPECT_NE(table.find("ril-step-40 - sft [95% CI]"), std::string::npos) << table;
  EXPECT_NE(table.find("-50.0 [-100.0, +0.0]"), std::string::npos) << table;
  EXPECT_NE(table.find("+100.0 [+100.0, +100.0]"), std::string::npos) << table;
  const nlohmann::json j = nlohmann::json::parse(eval_json(rep));
  EXPECT_EQ(j["comparisons"][0]["a"], "ril-step-40");
  EXPECT_DOUBLE_EQ(j["comparisons"][0]["families"]["counting"]["low"].get<double>(), -1.0);
  EXPECT_EQ(j["models"][1]["families"]["counting"]["unparsed"], 1);
}

TEST(EvalReport, ComparisonNamesMustBeModels) {
  const std::vector<EvalModelSpec> models = {{"a", "/x"}, {"b", "/y"}};
  EXPECT_EQ(parse_eval_comparisons({"a:b"}, models).at(0).second, "b");
  EXPECT_THROW(parse_eval_comparisons({"a:c"}, models), ConfigError);
  EXPECT_THROW(parse_eval_comparisons({"ab"}, models), ConfigError);
  EXPECT_THROW(parse_eval_comparisons({"a:a"}, models), ConfigError);
}

TEST(EvalReport, Json) {
  const nlohmann::json j = nlohmann::json::parse(eval_json(report()));
  EXPECT_EQ(j["dataset"], "/data/ds.h5");
  EXPECT_EQ(j["split"], "test");
  EXPECT_EQ(j["questions"], 5);
  EXPECT_EQ(j["families"], nlohmann::json::array({"counting", "colour", "yesno"}));
  EXPECT_EQ(j["family_questions"]["colour"], 2);
  EXPECT_EQ(j["command_line"], "ril eval --model a=/m");
  EXPECT_EQ(j["config"]["split"], "test");
  EXPECT_EQ(j["generation"]["max_new_tokens"], 32);
  ASSERT_EQ(j["models"].size(), 2u);
  const auto& a = j["models"][0];
  EXPECT_EQ(a["name"], "sft");
  EXPECT_EQ(a["source"], "hf_dir");
  EXPECT_FALSE(a.contains("checkpoint_step"));
  EXPECT_EQ(a["overall"]["correct"], 4);
  EXPECT_EQ(a["overall"]["total"], 5);
  EXPECT_DOUBLE_EQ(a["overall"]["accuracy"].get<double>(), 0.8);
  EXPECT_EQ(a["families"]["yesno"]["correct"], 0);
  EXPECT_DOUBLE_EQ(a["families"]["counting"]["mean_response_tokens"].get<double>(), 4.0);
  const auto& b = j["models"][1];
  EXPECT_EQ(b["checkpoint_step"], 40);
  ASSERT_EQ(b["questions"].size(), 5u);
  EXPECT_EQ(b["questions"][0]["index"], 10);
  EXPECT_EQ(b["questions"][0]["correct"], false);
  EXPECT_EQ(b["questions"][2]["extracted"], "red");
  // Invalid UTF-8 in a response does not break the document.
  EXPECT_NE(b["questions"][4]["response"].get<std::string>().find("Answer: red"), std::string::npos);
}

TEST(EvalReport, CommandLine) {
  const std::string line = current_command_line();
  EXPECT_NE(line.find("ril_jobs_tests"), std::string::npos) << line;
}

// ---- models from checkpoints --------------------------------------------------------------------

using test::byte_tokenizer;

io::NamedTensors named(const torch::nn::Module& module) {
  io::NamedTensors out;
  for (const auto& [name, t] : model::module_tensors(module)) out.emplace_back(name, t);
  return out;
}

// A checkpoint file in the `ril train` layout.
void write_checkpoint(const std::string& path, const torch::nn::Module& student, const model::ModelConfig& config,
                      const std::string& tokenizer) {
  io::H5File f = io::H5File::create(path, io::kCheckpointKind);
  io::save_tensors(f, "student", named(student));
  f.set_attr("/", "student_config", model::model_config_to_json(config).dump(2));
  f.set_attr("/", "student_tokenizer", tokenizer);
  io::write_int64(f, "step", 40);
  f.set_attr("/", "complete", int64_t{1});
}

void expect_same_parameters(const torch::nn::Module& a, const torch::nn::Module& b) {
  const model::TensorMap ta = model::module_tensors(a), tb = model::module_tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, t] : ta) {
    ASSERT_TRUE(tb.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, tb.at(name))) << name;
  }
}

TEST(EvalModels, Qwen2AndLlavaCheckpointsLoadExactly) {
  test::TempDir dir;
  const std::string tok = dir.path() + "/tokenizer.json";
  byte_tokenizer().save_tokenizer_json(tok);

  model::ModelConfig qc = model::model_preset("tiny");
  model::Qwen2ForCausalLM lm(qc.qwen2);
  lm->init_weights(5);
  write_checkpoint(dir.path() + "/q.h5", *lm, qc, tok);
  const EvalModelSource qs = resolve_eval_model({"q", dir.path() + "/q.h5"}, "");
  EXPECT_TRUE(qs.checkpoint);
  EXPECT_EQ(qs.step, 40);
  EXPECT_EQ(qs.tokenizer_path, tok);
  const model::PretrainedModel q = load_eval_model(qs);
  ASSERT_EQ(q.config.kind, model::ModelKind::kQwen2);
  expect_same_parameters(*lm, *q.lm);

  model::ModelConfig lc = model::model_preset("tiny-llava");
  model::LlavaForConditionalGeneration llava(lc.llava);
  llava->init_weights(6);
  write_checkpoint(dir.path() + "/l.h5", *llava, lc, "/nowhere/tokenizer.json");
  const EvalModelSource ls = resolve_eval_model({"l", dir.path() + "/l.h5"}, tok);  // --tokenizer wins
  EXPECT_EQ(ls.tokenizer_path, tok);
  const model::PretrainedModel l = load_eval_model(ls);
  ASSERT_EQ(l.config.kind, model::ModelKind::kLlava);
  expect_same_parameters(*llava, *l.llava);

  // The same model as an HF directory.
  model::save_pretrained(lm, dir.path() + "/hf");
  std::filesystem::copy_file(tok, dir.path() + "/hf/tokenizer.json");
  const EvalModelSource hs = resolve_eval_model({"hf", dir.path() + "/hf"}, "");
  EXPECT_FALSE(hs.checkpoint);
  EXPECT_EQ(hs.tokenizer_path, dir.path() + "/hf/tokenizer.json");
  expect_same_parameters(*lm, *load_eval_model(hs).lm);
}

TEST(EvalModels, BadModelsAreConfigErrors) {
  test::TempDir dir;
  const std::string d = dir.path();
  auto error = [&](const std::string& path, const std::string& tokenizer = "") {
    return config_error_of([&] { resolve_eval_model({"m", path}, tokenizer); });
  };
  EXPECT_NE(error(d + "/none").find("--model m: '" + d + "/none' does not exist"), std::string::npos);
  std::filesystem::create_directories(d + "/empty");
  EXPECT_NE(error(d + "/empty").find("without config.json"), std::string::npos);
  io::H5File::create(d + "/ds.h5", "dataset").close();
  EXPECT_NE(error(d + "/ds.h5").find("is a ril 'dataset' file, not a `ril train` checkpoint"), std::string::npos);
  {
    io::H5File f = io::H5File::create(d + "/sft.h5", io::kCheckpointKind);
    f.create_group("model");
  }
  EXPECT_NE(error(d + "/sft.h5").find("has no student"), std::string::npos);
  std::ofstream(d + "/junk.h5") << "not hdf5";
  EXPECT_NE(error(d + "/junk.h5").find("not an HDF5 file"), std::string::npos);
  {
    const model::ModelConfig qc = model::model_preset("tiny");
    model::Qwen2ForCausalLM lm(qc.qwen2);
    write_checkpoint(d + "/lost_tok.h5", *lm, qc, d + "/gone.json");
  }
  EXPECT_NE(error(d + "/lost_tok.h5").find("the checkpoint's tokenizer '" + d + "/gone.json'"), std::string::npos);
  EXPECT_NE(error(d + "/lost_tok.h5", d + "/gone.json").find("--tokenizer '" + d + "/gone.json' does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace ril::jobs
