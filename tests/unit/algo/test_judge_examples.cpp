// Judge training examples (judge_examples.h): every candidate is labelled by the rule checker,
// its target states the extracted answer and the ground truth and parses as that label, the
// damaged variants come out wrong, and make() balances the labels.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include "ril/algo/judge_examples.h"
#include "ril/algo/judge_verdict.h"
#include "ril/common/error.h"
#include "ril/data/dataset.h"

namespace ril::algo {
namespace {

// A dataset of four counting and two colour questions, in a scratch directory.
class JudgeExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/ril_judge_examples_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    data::DatasetWriterOptions o;
    o.path = dir_ + "/d.h5";
    o.image_height = 2;
    o.image_width = 2;
    o.rationale_styles = {"terse", "steps"};
    o.generator = "synth";
    data::DatasetWriter w(o);
    auto add = [&](const std::string& family, const std::string& q, const std::string& a, data::Split split) {
      data::Example x;
      x.image = data::Image(2, 2);
      x.question = q;
      x.answer = a;
      x.rationales["terse"] = "Answer: " + a;
      x.rationales["steps"] = "I look at the picture. It shows " + a + ". Answer: " + a;
      x.family = family;
      x.split = split;
      w.add(x);
    };
    add("counting", "How many circles are there?", "3", data::Split::kTrain);
    add("counting", "How many squares are there?", "5", data::Split::kTrain);
    add("counting", "How many stars are there?", "2", data::Split::kTest);
    add("counting", "How many dots are there?", "7", data::Split::kTrain);
    add("attribute", "What colour is the square?", "green", data::Split::kTrain);
    add("attribute", "What colour is the circle?", "red", data::Split::kVal);
    w.finish();
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string dir_;
};

TEST_F(JudgeExamplesTest, TargetsStateTheAnswersAndParseAsTheRuleLabel) {
  const data::Dataset d = data::Dataset::open(dir_ + "/d.h5");
  std::map<int64_t, std::vector<std::string>> teachers = {{0, {"There are three circles. Answer: 3"}}};
  JudgeExampleOptions o;
  o.per_question = 4;
  const JudgeExampleMaker maker(d, teachers, JudgePrompt(), o);
  const data::AnswerChecker checker;
  for (int64_t q = 0; q < d.size(); ++q) {
    data::DataRng rng(17 + static_cast<uint64_t>(q));
    const std::vector<JudgeExample> all = maker.candidates(q, rng);
    std::map<std::string, int> variants;
    for (const JudgeExample& e : all) {
      variants[e.variant] += 1;
      EXPECT_EQ(e.correct, checker.check(e.response, d.answer(q), d.question(q)).correct) << e.response;
      const JudgeVerdict v = parse_judge_verdict(e.target);
      ASSERT_TRUE(v.parsed()) << e.target;
      EXPECT_EQ(v.decision == JudgeDecision::kCorrect, e.correct) << e.target;
      EXPECT_NE(e.target.find(" vs " + d.answer(q) + ". <answer>"), std::string::npos) << e.target;
      // The prompt is the judge role's: JudgePrompt::render of the three fields.
      EXPECT_EQ(e.prompt, JudgePrompt().render(d.question(q), d.answer(q), e.response));
      if (e.variant == "rationale") EXPECT_TRUE(e.correct) << e.response;
      if (e.variant == "swapped" || e.variant == "two-answers") EXPECT_FALSE(e.correct) << e.response;
    }
    EXPECT_EQ(variants["rationale"], 2);
    EXPECT_EQ(variants["teacher"], q == 0 ? 1 : 0);
    EXPECT_EQ(variants["swapped"], 2);  // every family here has another answer
    EXPECT_EQ(variants["two-answers"], 1);
    EXPECT_EQ(variants["no-answer"], 1);
    EXPECT_EQ(variants["cut"], 1);
  }
  // Exact targets for the three kinds of explanation.
  data::AnswerVerdict v = checker.check("It is three. Answer: three", "3");
  EXPECT_EQ(judge_target(v, "3"), "3 vs 3. <answer>1</answer>");
  v = checker.check("Answer: 4", "3");
  EXPECT_EQ(judge_target(v, "3"), "4 vs 3. <answer>0</answer>");
  v = checker.check("Answer: 3\nAnswer: 4", "3");
  EXPECT_EQ(judge_target(v, "3"), "two vs 3. <answer>0</answer>");
  v = checker.check("I look at the", "green");
  EXPECT_EQ(judge_target(v, "green"), "none vs green. <answer>0</answer>");
}

TEST_F(JudgeExamplesTest, MakeBalancesLabelsAndIsDeterministic) {
  const data::Dataset d = data::Dataset::open(dir_ + "/d.h5");
  JudgeExampleOptions o;
  o.per_question = 4;
  o.seed = 3;
  const JudgeExampleMaker maker(d, {}, JudgePrompt(), o);
  int right = 0, wrong = 0;
  for (int64_t q = 0; q < d.size(); ++q) {
    const std::vector<JudgeExample> a = maker.make(q), b = maker.make(q);
    ASSERT_EQ(a.size(), 4u);
    int swapped = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].response, b[i].response);
      EXPECT_EQ(a[i].question_id, q);
      (a[i].correct ? right : wrong) += 1;
      swapped += a[i].variant == "swapped";
    }
    EXPECT_EQ(swapped, 1) << q;  // of the two wrong ones: one swapped, one wrong by form
  }
  // Two rationales are right and at least swapped / two-answers wrong: 2 + 2 per question.
  EXPECT_EQ(right, 12);
  EXPECT_EQ(wrong, 12);
  o.per_question = 0;
  auto make_maker = [&] { return JudgeExampleMaker(d, {}, JudgePrompt(), o); };
  EXPECT_THROW(make_maker(), ConfigError);
}

}  // namespace
}  // namespace ril::algo
