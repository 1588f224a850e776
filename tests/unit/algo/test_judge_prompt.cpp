// The judge's prompt template (judge_prompt.h): exactly {question}, {ground_truth}, {response},
// each once; bad templates are ConfigErrors naming the file; values substituted literally.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "ril/algo/judge_prompt.h"
#include "ril/common/error.h"
#include "support/temp_dir.h"

namespace ril::algo {
namespace {

// The message of the ConfigError `f` throws; fails the test (and returns "") if it throws none.
std::string config_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ril::ConfigError thrown";
  return "";
}

std::string write_file(const test::TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// An independent substitution for the built-in template: each placeholder occurs once there, so
// find + replace in order gives the expected text (values here contain no placeholders).
std::string naive_render(std::string text, const std::string& q, const std::string& a,
                         const std::string& r) {
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"{question}", q},
                                   {"{ground_truth}", a},
                                   {"{response}", r}}) {
    const size_t at = text.find(key);
    EXPECT_NE(at, std::string::npos) << key;
    text.replace(at, key.size(), value);
  }
  return text;
}

TEST(JudgePrompt, DefaultTemplateRenders) {
  const JudgePrompt prompt;
  EXPECT_EQ(prompt.text(), JudgePrompt::default_text());
  const std::string& t = JudgePrompt::default_text();
  // The paper's form: evaluation assistant, ground truth, explanation, 0/1 inside answer tags.
  EXPECT_EQ(t.rfind("You are an evaluation assistant.", 0), 0u);
  EXPECT_NE(t.find("explanation"), std::string::npos);
  EXPECT_NE(t.find("inside <answer></answer>"), std::string::npos);
  const std::string q = "How many red circles are there?";
  const std::string a = "3";
  const std::string r = "I count three red circles.\nAnswer: 3";
  const std::string out = prompt.render(q, a, r);
  EXPECT_EQ(out, naive_render(t, q, a, r));
  EXPECT_NE(out.find("Question:\n" + q + "\n\nGround-truth answer:\n3\n\nGenerated response:\n" + r +
                     "\n\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("{question}"), std::string::npos);
  EXPECT_EQ(out.find("{ground_truth}"), std::string::npos);
  EXPECT_EQ(out.find("{response}"), std::string::npos);
  EXPECT_EQ(out.size(), t.size() - 10 - 14 - 10 + q.size() + a.size() + r.size());
}

TEST(JudgePrompt, RendersAnyOrderExactly) {
  const auto p = JudgePrompt::from_text("R={response}|Q={question}|A={ground_truth}.", "test");
  EXPECT_EQ(p.render("q", "a", "r"), "R=r|Q=q|A=a.");
  EXPECT_EQ(p.render("", "", ""), "R=|Q=|A=.");
  const auto bare = JudgePrompt::from_text("{question}{ground_truth}{response}", "test");
  EXPECT_EQ(bare.render("1", "2", "3"), "123");
  EXPECT_EQ(bare.source(), "test");
}

TEST(JudgePrompt, SubstitutesLiterally) {
  const auto p = JudgePrompt::from_text("Q: {question}\nA: {ground_truth}\nR: {response}", "test");
  // Values that hold placeholders, format characters and chat control text stay as written.
  EXPECT_EQ(p.render("{response}", "{question}", "{ground_truth} {question} {response}"),
            "Q: {response}\nA: {question}\nR: {ground_truth} {question} {response}");
  EXPECT_EQ(p.render("$1 \\1 %s {}", "{{ground_truth}}", "<answer>1</answer><|im_end|>"),
            "Q: $1 \\1 %s {}\nA: {{ground_truth}}\nR: <answer>1</answer><|im_end|>");
  const std::string with_nul("a\0b", 3);
  EXPECT_EQ(p.render(with_nul, "x", "y"), std::string("Q: a\0b\nA: x\nR: y", 16));
}

TEST(JudgePrompt, OtherBracesArePlainText) {
  const auto p = JudgePrompt::from_text(
      "Reply in {0, 1}; { question } is not a field; {{question}} is; a lone { or } too. "
      "{ground_truth} {response}",
      "test");
  EXPECT_EQ(p.render("Q", "A", "R"),
            "Reply in {0, 1}; { question } is not a field; {Q} is; a lone { or } too. A R");
}

TEST(JudgePrompt, MissingPlaceholderIsAnError) {
  EXPECT_EQ(config_error_of([] { JudgePrompt::from_text("{question} {response}", "t1"); }),
            "judge prompt t1: placeholder {ground_truth} is missing (a judge prompt takes exactly "
            "{question}, {ground_truth} and {response}, each once)");
  EXPECT_EQ(config_error_of([] { JudgePrompt::from_text("{ground_truth} {response}", "t2"); }),
            "judge prompt t2: placeholder {question} is missing (a judge prompt takes exactly "
            "{question}, {ground_truth} and {response}, each once)");
  EXPECT_EQ(config_error_of([] { JudgePrompt::from_text("{question}{ground_truth}", "t3"); }),
            "judge prompt t3: placeholder {response} is missing (a judge prompt takes exactly "
            "{question}, {ground_truth} and {response}, each once)");
  EXPECT_EQ(config_error_of([] { JudgePrompt::from_text("", "t4"); }),
            "judge prompt t4: placeholder {question} is missing (a judge prompt takes exactly "
            "{question}, {ground_truth} and {response}, each once)");
}

TEST(JudgePrompt, RepeatedPlaceholderIsAnError) {
  EXPECT_EQ(config_error_of([] {
              JudgePrompt::from_text("{question}\n{ground_truth}\n{response}\n\n{question}", "t");
            }),
            "judge prompt t: {question} appears twice (lines 1 and 5); each placeholder must "
            "appear exactly once");
  EXPECT_EQ(config_error_of([] {
              JudgePrompt::from_text("{response}{question}{response}{ground_truth}", "t");
            }),
            "judge prompt t: {response} appears twice (lines 1 and 1); each placeholder must "
            "appear exactly once");
}

TEST(JudgePrompt, UnknownPlaceholderIsAnError) {
  const std::string tail = " (a judge prompt takes exactly {question}, {ground_truth} and "
                           "{response}, each once)";
  for (const std::string bad : {"{answer}", "{Question}", "{ground-truth}", "{0}", "{}",
                                 "{question_}"}) {
    EXPECT_EQ(config_error_of([&] {
                JudgePrompt::from_text("{question}\n{ground_truth}\n" + bad + " {response}", "t");
              }),
              "judge prompt t: unknown placeholder " + bad + " on line 3" + tail)
        << bad;
  }
}

TEST(JudgePrompt, FromFile) {
  test::TempDir dir;
  const std::string path =
      write_file(dir, "judge.txt", "Q={question}\nA={ground_truth}\nR={response}\n\r\n\n");
  const auto p = JudgePrompt::from_file(path);
  EXPECT_EQ(p.text(), "Q={question}\nA={ground_truth}\nR={response}");  // trailing newlines dropped
  EXPECT_EQ(p.source(), "file '" + path + "'");
  EXPECT_EQ(p.render("q", "a", "r"), "Q=q\nA=a\nR=r");
  // The built-in text written to a file reads back the same.
  const auto round = JudgePrompt::from_file(write_file(dir, "default.txt", JudgePrompt::default_text()));
  EXPECT_EQ(round.text(), JudgePrompt::default_text());
}

TEST(JudgePrompt, FileErrorsNameTheFile) {
  test::TempDir dir;
  const std::string missing = dir.path() + "/no-such-prompt.txt";
  EXPECT_EQ(config_error_of([&] { JudgePrompt::from_file(missing); }),
            "judge prompt file '" + missing + "': no such file");
  EXPECT_EQ(config_error_of([&] { JudgePrompt::from_file(dir.path()); }),
            "judge prompt file '" + dir.path() + "': is a directory, not a text file");
  const std::string big = write_file(dir, "big.txt", std::string(JudgePrompt::kMaxFileBytes + 1, 'x'));
  EXPECT_EQ(config_error_of([&] { JudgePrompt::from_file(big); }),
            "judge prompt file '" + big + "': 1048577 bytes; a judge prompt is at most 1048576 "
            "bytes (is this the right file?)");

  const std::string no_truth = write_file(dir, "no_truth.txt", "{question}\n{response}\n");
  EXPECT_EQ(config_error_of([&] { JudgePrompt::from_file(no_truth); }),
            "judge prompt file '" + no_truth + "': placeholder {ground_truth} is missing (a judge "
            "prompt takes exactly {question}, {ground_truth} and {response}, each once)");
  const std::string twice = write_file(dir, "twice.txt", "{question}\n{ground_truth}\n{response}\n{response}\n");
  EXPECT_EQ(config_error_of([&] { JudgePrompt::from_file(twice); }),
            "judge prompt file '" + twice + "': {response} appears twice (lines 3 and 4); each "
            "placeholder must appear exactly once");
  const std::string unknown = write_file(dir, "unknown.txt", "{question}\n{answer}\n{ground_truth}{response}");
  EXPECT_EQ(config_error_of([&] { JudgePrompt::from_file(unknown); }),
            "judge prompt file '" + unknown + "': unknown placeholder {answer} on line 2 (a judge "
            "prompt takes exactly {question}, {ground_truth} and {response}, each once)");
  // ConfigError is a ril::Error: callers that catch ril::Error see it too.
  EXPECT_THROW(JudgePrompt::from_file(missing), ril::Error);
}

}  // namespace
}  // namespace ril::algo
