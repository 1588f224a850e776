// RIL rewards (DESIGN.md section 1, step 5), for every one of the 2G responses of a question,
// teacher responses included:
//   R = 1[D(o) < 0.5] + Judge(q, a, o)      both parts binary, so R in {0, 1, 2}
// D(o) is the discriminator's probability that o is a STUDENT response (label 1), so
// 1[D(o) < 0.5] = "looks like a teacher". D(o) == 0.5 exactly counts as student (no reward),
// the same threshold discriminator_loss() uses for its accuracy.
// Called by the learner (or whichever rank gathers D scores and verdicts); pure tensor math.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace ril::data {
class AnswerChecker;
}

namespace ril::algo {

// --answer-reward: where the answer part Judge(q, a, o) comes from.
//   rule   the rule-based answer checker (data/answer_checker.h; the paper's weaker ablation)
//   judge  the LLM judge's verdict (roles/judge.h; an unparsed or budget-cut verdict is 0)
//   both   the judge's verdict, with its agreement with the rule checker logged
enum class AnswerReward { kRule, kJudge, kBoth };
AnswerReward parse_answer_reward(const std::string& text);  // "rule" | "judge" | "both"; ConfigError otherwise

struct RewardOptions {
  bool use_discriminator = true;  // false: the discriminator part is 0 (plain Dr.GRPO)
  bool use_answer = true;         // false: the answer part is 0 (imitation only)
  double threshold = 0.5;         // discriminator part = 1[D(o) < threshold]
};

// Every tensor [N], float32 (float64 when the inputs are float64), on the inputs' device.
struct Rewards {
  torch::Tensor total;          // discriminator + answer
  torch::Tensor discriminator;  // 1[D(o) < threshold], 0 when switched off
  torch::Tensor answer;         // answer_correct as 0/1, 0 when switched off
};

// student_prob [N] floating (D(o), in [0, 1]); answer_correct [N] bool or 0/1 numbers.
// A part that is switched off may be passed undefined (its part is then zeros).
Rewards compute_rewards(const torch::Tensor& student_prob, const torch::Tensor& answer_correct,
                        const RewardOptions& options = {});

// Rule-based judge for a batch: [N] bool on CPU, element i = checker.check(responses[i],
// ground_truths[i], questions[i]).correct. `questions` may be empty (no echo removal).
torch::Tensor answer_correctness(const data::AnswerChecker& checker,
                                 const std::vector<std::string>& responses,
                                 const std::vector<std::string>& ground_truths,
                                 const std::vector<std::string>& questions = {});

}  // namespace ril::algo
