#include "ril/algo/rewards.h"

#include "ril/common/error.h"
#include "ril/data/answer_checker.h"
#include "tensor_checks.h"

namespace ril::algo {

AnswerReward parse_answer_reward(const std::string& text) {
  if (text == "rule") return AnswerReward::kRule;
  if (text == "judge") return AnswerReward::kJudge;
  if (text == "both") return AnswerReward::kBoth;
  throw ConfigError(cat("--answer-reward must be rule, judge or both, got '", text, "'"));
}

Rewards compute_rewards(const torch::Tensor& student_prob, const torch::Tensor& answer_correct,
                        const RewardOptions& options) {
  const torch::Tensor& any = student_prob.defined() ? student_prob : answer_correct;
  TORCH_CHECK(any.defined(), "compute_rewards: student_prob and answer_correct both undefined");
  if (options.use_discriminator) {
    TORCH_CHECK(student_prob.defined(), "compute_rewards: discriminator reward on but no D(o)");
  }
  if (options.use_answer) {
    TORCH_CHECK(answer_correct.defined(), "compute_rewards: answer reward on but no verdicts");
  }
  if (student_prob.defined()) {
    TORCH_CHECK(student_prob.dim() == 1, "compute_rewards: student_prob must be [N], got ",
                student_prob.sizes());
    TORCH_CHECK(student_prob.is_floating_point(), "compute_rewards: student_prob must be floating");
  }
  if (answer_correct.defined()) {
    TORCH_CHECK(answer_correct.dim() == 1, "compute_rewards: answer_correct must be [N], got ",
                answer_correct.sizes());
  }
  if (student_prob.defined() && answer_correct.defined()) {
    TORCH_CHECK(student_prob.size(0) == answer_correct.size(0),
                "compute_rewards: ", student_prob.size(0), " D scores but ",
                answer_correct.size(0), " answer verdicts");
  }
  const auto dtype = student_prob.defined() ? detail::compute_dtype(student_prob)
                                            : torch::kFloat32;
  const auto opts = any.options().dtype(dtype);
  const int64_t n = any.size(0);

  Rewards out;
  if (options.use_discriminator) {
    // [N]: 1 where D(o) < threshold (teacher-like), computed from a detached copy.
    out.discriminator = student_prob.detach().to(dtype).lt(options.threshold).to(dtype);
  } else {
    out.discriminator = torch::zeros({n}, opts);
  }
  if (options.use_answer) {
    out.answer = detail::as_bool(answer_correct.detach()).to(opts);
  } else {
    out.answer = torch::zeros({n}, opts);
  }
  out.total = out.discriminator + out.answer;
  return out;
}

torch::Tensor answer_correctness(const data::AnswerChecker& checker,
                                 const std::vector<std::string>& responses,
                                 const std::vector<std::string>& ground_truths,
                                 const std::vector<std::string>& questions) {
  RIL_CHECK(responses.size() == ground_truths.size(), "answer_correctness: ", responses.size(),
            " responses but ", ground_truths.size(), " ground truths");
  RIL_CHECK(questions.empty() || questions.size() == responses.size(), "answer_correctness: ",
            responses.size(), " responses but ", questions.size(), " questions");
  const int64_t n = static_cast<int64_t>(responses.size());
  auto out = torch::zeros({n}, torch::kBool);
  auto acc = out.accessor<bool, 1>();
  static const std::string kNoQuestion;
  for (int64_t i = 0; i < n; ++i) {
    const std::string& q = questions.empty() ? kNoQuestion : questions[i];
    acc[i] = checker.check(responses[i], ground_truths[i], q).correct;
  }
  return out;
}

}  // namespace ril::algo
