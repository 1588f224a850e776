// Gradient accumulation in the RIL learner and the discriminator trainer (--accumulate K):
// K micro-batches of the same step give the gradients and statistics of one batch (K = 1).
// One rank (local communicators); the multi-rank sum is the existing allreduce after the loop.
//
// Tolerance: the micro-batches change only the order of float32 additions (per-chunk sums, then
// the gradients' += across chunks) and the padding length of each chunk's batch (padded
// positions are masked). Gradients must agree to 3e-5 of the largest gradient magnitude of
// the tensor plus 1e-8 absolute; observed: ~1e-6 (learner), ~4e-6 (discriminator), printed. Parameters
// after the AdamW step are not compared elementwise: Adam's first step is lr * g / (|g| + eps),
// so a gradient element within rounding of 0 may flip its step's sign; the gradients it reads
// are the tested quantity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>

#include "ril/common/error.h"
#include "ril/data/dataset.h"
#include "ril/data/synth_generator.h"
#include "ril/dist/local_communicator.h"
#include "ril/model/checkpoint.h"
#include "ril/roles/discriminator_trainer.h"
#include "ril/roles/learner.h"
#include "ril/roles/policy_model.h"
#include "ril/roles/sft_batch.h"
#include "support/byte_tokenizer.h"
#include "support/temp_dir.h"

namespace ril::roles {
namespace {

struct Fixture {
  test::TempDir dir;
  text::BpeTokenizer tokenizer = test::byte_tokenizer();
  std::optional<data::Dataset> dataset;
  std::string reference;
  std::vector<int64_t> questions;
  Responses responses;
  DiscriminatorResult scores;

  Fixture() {
    data::SynthOptions so;
    so.output = dir.path() + "/d.h5";
    so.n_train = 6;
    so.n_val = 1;
    so.n_test = 1;
    data::write_synthetic_dataset(so);
    dataset.emplace(data::Dataset::open(so.output));
    PolicyModel init;
    init.m = model::PretrainedModel::create(model::model_preset("tiny"), /*seed=*/11);
    reference = dir.path() + "/reference";
    save_policy(init, reference);
    // 5 questions (odd, so K = 2 and 3 give chunks of different sizes), 2 student and 2 teacher
    // responses each, of different lengths (different padding per chunk), finished or cut.
    questions = dataset->indices(data::Split::kTrain);
    questions.resize(5);
    int32_t n = 0;
    for (int64_t q : questions) {
      for (int32_t s = 0; s < 2; ++s, ++n) {
        Response r;
        r.question = q;
        r.sample = s;
        r.finished = n % 3 != 0;
        for (int i = 0; i < 3 + (n * 5) % 9; ++i) r.ids.push_back('a' + (n * 7 + i * 3) % 26);
        r.text = std::string(r.ids.begin(), r.ids.end());
        responses.push_back(r);
        Response t;
        t.question = q;
        t.sample = s;
        t.source = s;
        t.finished = n % 2 == 0;
        t.text = n % 4 == 0 ? std::to_string(q % 10) : "the answer is " + std::to_string(n);
        responses.push_back(t);
      }
    }
    sort_responses(responses);
    for (size_t i = 0; i < responses.size(); ++i) scores.scores.push_back(0.2 + 0.6 * static_cast<double>(i % 3) / 2);
  }
};

void expect_same_gradients(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                           const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;  // relative to the tensor's largest gradient
  bool any_nonzero = false;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(a[i].grad().defined() && b[i].grad().defined()) << what << " parameter " << i;
    const double scale = a[i].grad().abs().max().item<double>();
    const double diff = (a[i].grad() - b[i].grad()).abs().max().item<double>();
    any_nonzero = any_nonzero || scale > 0;
    EXPECT_LE(diff, 3e-5 * scale + 1e-8) << what << " parameter " << i << " max |g| " << scale;
    if (scale > 0) worst = std::max(worst, diff / scale);
  }
  EXPECT_TRUE(any_nonzero) << what << ": the update had no gradient at all";
  std::cout << "[ accumulate ] " << what << ": max gradient difference / max |g| = " << worst << "\n";
}

std::vector<torch::Tensor> parameters_of(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (auto& [name, p] : named_parameters(m)) out.push_back(p);
  return out;
}

TEST(LearnerAccumulate, MicroBatchesGiveTheGradientsAndStatsOfOneBatch) {
  Fixture f;
  LearnerOptions o;
  o.reference_dir = f.reference;
  o.lr = 1e-3;
  o.max_grad_norm = 0;  // the gradients read after the step are the summed ones, unclipped
  o.budget = 16;
  auto run = [&](int64_t k, std::shared_ptr<PolicyModel>& student) {
    student = std::make_shared<PolicyModel>();
    student->m = model::load_pretrained(f.reference);
    LearnerOptions ok = o;
    ok.accumulate = k;
    dist::LocalCommunicator group("learner"), host("learner-host");
    Learner learner(student, f.tokenizer, *f.dataset, ok, group, host);
    return learner.step(0, f.questions, f.responses, f.scores);
  };
  std::shared_ptr<PolicyModel> one;
  const LearnerStats base = run(1, one);
  ASSERT_TRUE(std::isfinite(base.policy.policy_loss));
  for (int64_t k : {2, 3, 5, 8}) {  // 8 > 5 questions: empty chunks are skipped
    std::shared_ptr<PolicyModel> many;
    const LearnerStats s = run(k, many);
    const std::string what = "learner K=" + std::to_string(k);
    expect_same_gradients(parameters_of(one->module()), parameters_of(many->module()), what);
    EXPECT_NEAR(s.policy.policy_loss, base.policy.policy_loss, 1e-5 * std::abs(base.policy.policy_loss) + 1e-7) << what;
    EXPECT_NEAR(s.policy.kl, base.policy.kl, 1e-5 * std::abs(base.policy.kl) + 1e-7) << what;
    EXPECT_NEAR(s.policy.entropy, base.policy.entropy, 1e-5 * std::abs(base.policy.entropy)) << what;
    EXPECT_EQ(s.policy.tokens, base.policy.tokens) << what << ": the statistics count the whole update";
  }
}

// --max-staleness 1 (LearnerOptions::behaviour_logprobs): pi_old on student tokens is the
// behaviour log-probs the responses carry. Carrying the student's own log-probs gives ratio 1,
// i.e. the lockstep update; carrying log-probs 0.5 lower (ratio e^0.5 = 1.65, outside the clip
// 1 +- 0.2) changes the policy-gradient term; a response without them is refused.
TEST(LearnerBehaviourPolicy, RatioIsTakenAgainstTheCarriedLogProbs) {
  Fixture f;
  LearnerOptions o;
  o.reference_dir = f.reference;
  o.lr = 1e-3;
  o.max_grad_norm = 0;
  o.budget = 16;
  o.beta = 0;  // the policy-gradient term alone
  auto run = [&](bool behaviour, const Responses& responses, std::shared_ptr<PolicyModel>& student) {
    student = std::make_shared<PolicyModel>();
    student->m = model::load_pretrained(f.reference);
    LearnerOptions ob = o;
    ob.behaviour_logprobs = behaviour;
    dist::LocalCommunicator group("learner"), host("learner-host");
    Learner learner(student, f.tokenizer, *f.dataset, ob, group, host);
    return learner.step(0, f.questions, responses, f.scores);
  };
  // The initial student's own log-probs of every student response, in the learner's batch layout.
  Responses own = f.responses;
  {
    PolicyModel init;
    init.m = model::load_pretrained(f.reference);
    init.module().eval();
    torch::NoGradGuard no_grad;
    const SftBatchBuilder builder(f.tokenizer, rl_batch_options(init, *f.dataset, o.budget));
    for (Response& r : own) {
      if (!r.is_student()) continue;
      const SftBatch b = builder.build_with_responses(*f.dataset, {r.question}, {r.ids});
      const torch::Tensor lp = response_logprobs(init, b).to(torch::kFloat32).contiguous();
      r.logprobs.assign(lp.data_ptr<float>(), lp.data_ptr<float>() + r.ids.size());
    }
  }
  Responses lower = own;
  for (Response& r : lower) {
    for (float& v : r.logprobs) v -= 0.5F;
  }
  std::shared_ptr<PolicyModel> lockstep, same, shifted;
  const LearnerStats base = run(false, f.responses, lockstep);
  const LearnerStats s_same = run(true, own, same);
  const LearnerStats s_shift = run(true, lower, shifted);
  expect_same_gradients(parameters_of(lockstep->module()), parameters_of(same->module()), "behaviour = own log-probs");
  EXPECT_NEAR(s_same.policy.pg_term, base.policy.pg_term, 1e-5 * std::abs(base.policy.pg_term) + 1e-6);
  std::cout << "[ behaviour ] pg_term lockstep " << base.policy.pg_term << ", own " << s_same.policy.pg_term
            << ", shifted " << s_shift.policy.pg_term << "\n";
  EXPECT_GT(std::abs(s_shift.policy.pg_term - base.policy.pg_term), 1e-3 * std::abs(base.policy.pg_term) + 1e-4)
      << "log-probs 0.5 lower did not change the policy-gradient term: the carried log-probs are not used";
  std::shared_ptr<PolicyModel> none;
  EXPECT_THROW(run(true, f.responses, none), Error);  // no log-probs carried
}

TEST(DiscriminatorAccumulate, MicroBatchesGiveTheGradientsAndStatsOfOneBatch) {
  Fixture f;
  PolicyModel student;
  student.m = model::load_pretrained(f.reference);
  DiscriminatorTrainerOptions o;
  o.lr = 1e-3;
  o.max_grad_norm = 0;
  o.budget = 16;
  o.seed = 5;
  dist::LocalCommunicator group("disc"), host("disc-host");
  auto run = [&](int64_t k, std::unique_ptr<DiscriminatorTrainer>& trainer) {
    DiscriminatorTrainerOptions ok = o;
    ok.accumulate = k;
    trainer = std::make_unique<DiscriminatorTrainer>(student, f.tokenizer, ok, group, host);
    return trainer->step(0, f.questions, f.responses);
  };
  std::unique_ptr<DiscriminatorTrainer> one, many;
  const DiscriminatorResult base = run(1, one);
  const DiscriminatorResult three = run(3, many);
  expect_same_gradients(one->parameters(), many->parameters(), "discriminator K=3");
  EXPECT_NEAR(three.stats.loss, base.stats.loss, 1e-5 * std::abs(base.stats.loss));
  EXPECT_EQ(three.stats.accuracy, base.stats.accuracy);
  ASSERT_EQ(three.scores.size(), base.scores.size());
  for (size_t i = 0; i < base.scores.size(); ++i) EXPECT_NEAR(three.scores[i], base.scores[i], 1e-4) << i;
}

}  // namespace
}  // namespace ril::roles
