// `ril train`'s typed contracts: the metrics columns (one declaration; the order of the tables
// written so far), the row's values in that order, the stage and resume choices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ril/common/error.h"
#include "ril/jobs/train_inputs.h"
#include "ril/jobs/train_metrics.h"

namespace ril::jobs {
namespace {

TEST(TrainMetrics, ColumnsAreTheTablesOfEarlierRuns) {
  // metrics.h5/csv written before issue 12 have exactly these columns in this order; a resumed
  // run reopens them only when the list is the same.
  const std::vector<std::string> before = {
      "reward_student", "reward_teacher", "reward_disc_student", "reward_disc_teacher", "answer_acc_student",
      "answer_acc_teacher", "disc_loss", "disc_acc", "disc_acc_student", "disc_acc_teacher", "disc_prob_student",
      "disc_prob_teacher", "kl", "policy_loss", "pg_term", "entropy", "response_len_student", "response_len_teacher",
      "tokens_per_s", "time_teacher", "time_rollout", "time_disc", "time_learner", "time_step", "lr", "bad_steps",
      "kl_student", "kl_teacher", "limit_hit_student", "limit_hit_teacher", "val_acc"};
  EXPECT_EQ(TrainMetricsRow::columns(), before);
}

TEST(TrainMetrics, ValuesFollowTheColumnsAndUnsetOnesAreNaN) {
  TrainMetricsRow row;
  row.reward_student = 1.5;
  row.kl = 0.25;
  row.val_acc = 0.75;
  const std::vector<double> v = row.values();
  const std::vector<std::string>& c = TrainMetricsRow::columns();
  ASSERT_EQ(v.size(), c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] == "reward_student") EXPECT_EQ(v[i], 1.5);
    else if (c[i] == "kl") EXPECT_EQ(v[i], 0.25);
    else if (c[i] == "val_acc") EXPECT_EQ(v[i], 0.75);
    else EXPECT_TRUE(std::isnan(v[i])) << c[i];
  }
}

TEST(TrainChoices, StageAndResumeAreParsedOnce) {
  EXPECT_EQ(parse_train_stage("disc"), TrainStage::kDisc);
  EXPECT_EQ(parse_train_stage("ril"), TrainStage::kRil);
  EXPECT_STREQ(train_stage_name(TrainStage::kDisc), "disc");
  EXPECT_THROW(parse_train_stage("sft"), ConfigError);
  EXPECT_EQ(ResumeRequest::parse("auto").mode, ResumeMode::kAuto);
  EXPECT_EQ(ResumeRequest::parse("no").mode, ResumeMode::kNo);
  const ResumeRequest path = ResumeRequest::parse("runs/a/checkpoints/step-000003.h5");
  EXPECT_EQ(path.mode, ResumeMode::kPath);
  EXPECT_EQ(path.path, "runs/a/checkpoints/step-000003.h5");
  EXPECT_THROW(ResumeRequest::parse(""), ConfigError);
}

TEST(TrainMetrics, JudgeColumnsFollowOnlyWithTheJudge) {
  const std::vector<std::string>& plain = TrainMetricsRow::columns();
  const std::vector<std::string>& judged = TrainMetricsRow::columns(true);
  ASSERT_EQ(judged.size(), plain.size() + 7);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), judged.begin()));
  EXPECT_EQ(judged[plain.size()], "judge_acc_student");
  EXPECT_EQ(judged.back(), "time_judge");
  TrainMetricsRow row;
  row.judge_agreement = 0.5;
  const std::vector<double> v = row.values(true);
  ASSERT_EQ(v.size(), judged.size());
  EXPECT_EQ(v[std::find(judged.begin(), judged.end(), "judge_agreement") - judged.begin()], 0.5);
  EXPECT_EQ(row.values().size(), plain.size());
}

TEST(TrainChoices, AnswerRewardIsParsedOnce) {
  EXPECT_EQ(algo::parse_answer_reward("rule"), algo::AnswerReward::kRule);
  EXPECT_EQ(algo::parse_answer_reward("judge"), algo::AnswerReward::kJudge);
  EXPECT_EQ(algo::parse_answer_reward("both"), algo::AnswerReward::kBoth);
  EXPECT_THROW(algo::parse_answer_reward("llm"), ConfigError);
}

std::string layout_error(const std::string& layout, int world, const std::string& judge) {
  TrainConfig t;
  t.judge = judge;
  try {
    train_role_map(layout, world, t);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TrainLayout, JudgeRanksAndJudgeOptionGoTogether) {
  TrainConfig t;
  t.judge = "/models/judge";
  // --layout auto with --judge: the judge on the teacher ranks.
  EXPECT_EQ(train_role_map("auto", 2, t).spec(), "teacher+rollout+judge=1,discriminator+learner=1");
  EXPECT_EQ(train_role_map("teacher+judge=1,rollout=1,discriminator+learner=1", 3, t).root(dist::Role::kJudge), 0);
  EXPECT_EQ(train_role_map("all=1,judge=1", 2, t).ranks(dist::Role::kJudge), (std::vector<int>{1}));
  EXPECT_TRUE(train_role_map("auto", 2, TrainConfig()).ranks(dist::Role::kJudge).empty());
  EXPECT_NE(layout_error("teacher+rollout=1,discriminator+learner=1", 2, "/models/judge")
                .find("--judge is given but --layout 'teacher+rollout=1,discriminator+learner=1' has no judge rank"),
            std::string::npos);
  EXPECT_NE(layout_error("all=1,judge=1", 2, "").find("has judge ranks but no --judge DIR is given"), std::string::npos);
}

TEST(TrainMetrics, OverlapColumnsFollowOnlyWithMaxStaleness) {
  const std::vector<std::string> plain = TrainMetricsRow::columns();
  const std::vector<std::string> overlap = TrainMetricsRow::columns(false, true);
  const std::vector<std::string> both = TrainMetricsRow::columns(true, true);
  ASSERT_EQ(overlap.size(), plain.size() + 3);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), overlap.begin()));
  EXPECT_EQ(overlap[plain.size()], "staleness");
  EXPECT_EQ(overlap.back(), "time_wait_rollouts");
  ASSERT_EQ(both.size(), plain.size() + 10);
  EXPECT_EQ(both[plain.size()], "judge_acc_student");
  EXPECT_EQ(both.back(), "time_wait_rollouts");
  TrainMetricsRow row;
  row.staleness = 1;
  const std::vector<double> v = row.values(true, true);
  ASSERT_EQ(v.size(), both.size());
  EXPECT_EQ(v[std::find(both.begin(), both.end(), "staleness") - both.begin()], 1.0);
}

// --max-staleness 1 needs rollout ranks that hold no learner role (else nothing overlaps).
TEST(TrainLayout, OverlapNeedsRolloutRanksWithoutTheLearnerRole) {
  TrainConfig t;
  t.max_staleness = 1;
  auto error = [&t](const std::string& layout, int world) {
    try {
      train_role_map(layout, world, t);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  for (const auto& [layout, world] : std::vector<std::pair<std::string, int>>{
           {"all=2", 2}, {"auto", 1}, {"teacher+discriminator=1,rollout+learner=1", 2}}) {
    EXPECT_NE(error(layout, world).find("holds both the rollout and the learner role"), std::string::npos)
        << layout << ": " << error(layout, world);
  }
  EXPECT_EQ(error("rollout=1,teacher+discriminator+learner=1", 2), "(no error)");
  EXPECT_EQ(error("auto", 4), "(no error)");  // one role per rank
  t.max_staleness = 0;
  EXPECT_EQ(error("all=2", 2), "(no error)");  // lockstep: any layout
}

}  // namespace
}  // namespace ril::jobs
