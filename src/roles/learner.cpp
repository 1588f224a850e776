#include "ril/roles/learner.h"

#include <algorithm>
#include <limits>
#include <map>

#include "ril/algo/advantages.h"
#include "ril/algo/policy_loss.h"
#include "ril/algo/rewards.h"
#include "ril/common/logging.h"
#include "ril/dist/gradient_sync.h"
#include "ril/dist/host_messages.h"
#include "ril/dist/sharding.h"
#include "ril/io/checkpoint_schema.h"
#include "ril/io/module_state.h"
#include "ril/model/checkpoint.h"
#include "ril/roles/finite_parameters.h"
#include "ril/roles/optimizer_shards.h"

namespace ril::roles {
namespace {

namespace names = io::checkpoint_names;

std::map<int64_t, int64_t> question_positions(const std::vector<int64_t>& questions) {
  std::map<int64_t, int64_t> position;
  for (size_t j = 0; j < questions.size(); ++j) position.emplace(questions[j], static_cast<int64_t>(j));
  return position;
}

double ratio(double a, double b) { return b > 0 ? a / b : std::nan(""); }

}  // namespace

// The policy loss's figures as sums over this rank's rows, added up over the group.
struct Learner::PolicySums {
  double loss = 0, pg_term = 0, kl_student = 0, entropy_student = 0, student_tokens = 0, tokens = 0,
         all_tokens = 0, kl_teacher = 0, teacher_tokens = 0, kl = 0;
  std::vector<double> values() const {
    return {loss, pg_term, kl_student, entropy_student, student_tokens, tokens, all_tokens, kl_teacher,
            teacher_tokens, kl};
  }
  static PolicySums from(const std::vector<double>& v) {
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
  }
  PolicySums& operator+=(const PolicySums& o) {
    std::vector<double> v = values();
    const std::vector<double> w = o.values();
    for (size_t i = 0; i < v.size(); ++i) v[i] += w[i];
    return *this = from(v);
  }
  PolicyStats stats() const {
    PolicyStats s;
    s.policy_loss = loss;
    s.pg_term = pg_term;
    s.kl = ratio(kl, tokens);
    s.kl_student = ratio(kl_student, student_tokens);
    s.kl_teacher = ratio(kl_teacher, teacher_tokens);
    s.entropy = ratio(entropy_student, student_tokens);
    s.tokens = all_tokens;
    return s;
  }
};

struct Learner::Scored {
  torch::Tensor correct;     // [N] bool: the answer check
  torch::Tensor judge;       // [N] int64 algo::JudgeDecision (judge | both), else undefined
  algo::Rewards rewards;     // [N] float32
  torch::Tensor advantages;  // [N] float32
};

Learner::Learner(std::shared_ptr<PolicyModel> student, const text::BpeTokenizer& tokenizer,
                 const data::Dataset& dataset, const LearnerOptions& options, dist::Communicator& group,
                 dist::Communicator& host_group)
    : student_(std::move(student)),
      tokenizer_(tokenizer),
      dataset_(dataset),
      options_(options),
      group_(group),
      host_(host_group),
      builder_(tokenizer, rl_batch_options(*student_, dataset, options.budget)) {
  for (auto& [name, p] : named_parameters(student_->module())) params_.push_back(p);
  if (!options_.train) return;
  student_->m.language_model()->model->set_checkpoint_activations(options_.checkpoint_activations);
  reference_.emplace();
  reference_->m = model::load_pretrained(options_.reference_dir);
  reference_->module().eval();
  for (auto& p : reference_->module().parameters()) p.set_requires_grad(false);
  make_group_adamw(options_.shard, options_.lr, options_.weight_decay, group_, params_, optimizer_, sharded_);
  if (options_.offload != OffloadMode::kNone) offload_ = std::make_unique<StateOffload>(options_.offload_path);
}

// --offload optimizer: the AdamW moments (torch's or this rank's shard); optimizer+model: also
// the frozen reference's weights. The gradients are released separately (go_idle).
std::vector<at::Tensor> Learner::idle_state() {
  std::vector<at::Tensor> out = adamw_state_tensors(optimizer_.get(), sharded_.get());
  if (options_.offload == OffloadMode::kOptimizerAndModel && reference_) {
    for (const at::Tensor& p : reference_->module().parameters()) out.push_back(p);
  }
  return out;
}

void Learner::go_idle() {
  if (!offload_) return;
  roles::go_idle(*offload_, params_, idle_state(), offload_mode_name(options_.offload), "the learner",
                 group_.rank() == 0, offload_logged_);
}

LearnerStats Learner::step(int64_t step, const std::vector<int64_t>& questions, const Responses& responses,
                           const DiscriminatorResult& scored, const JudgeResult& judged) {
  const Scored s = score(questions, responses, scored, judged);
  LearnerStats out;
  if (host_.rank() == 0) out.rewards = reward_stats(responses, s);
  if (options_.train) {
    if (offload_) offload_->bring_back();
    out.policy = update(step, questions, responses, s.advantages);
    go_idle();
  }
  out.skipped_updates = skipped_updates_;
  return out;
}

// Rewards and advantages for every response (cheap; identical on every learner rank).
Learner::Scored Learner::score(const std::vector<int64_t>& questions, const Responses& responses,
                               const DiscriminatorResult& scored, const JudgeResult& judged) const {
  const std::map<int64_t, int64_t> position = question_positions(questions);
  std::vector<std::string> texts, truths, question_texts;
  std::vector<int64_t> group_index;
  std::vector<uint8_t> is_student;
  for (const Response& r : responses) {
    is_student.push_back(r.is_student() ? 1 : 0);
    texts.push_back(r.text);
    truths.push_back(dataset_.answer(r.question));
    question_texts.push_back(dataset_.question(r.question));
    group_index.push_back(position.at(r.question));
  }
  Scored out;
  out.correct = algo::answer_correctness(checker_, texts, truths, question_texts);
  torch::Tensor prob;
  if (options_.use_discriminator) {
    RIL_CHECK(scored.scores.size() == responses.size(), "learner: ", scored.scores.size(), " discriminator scores for ",
              responses.size(), " responses");
    prob = torch::tensor(scored.scores, torch::kFloat64).to(torch::kFloat32);
  }
  algo::RewardOptions ro;
  ro.use_discriminator = options_.use_discriminator;
  ro.use_answer = options_.use_answer;
  torch::Tensor answer = out.correct;
  if (options_.answer_reward != algo::AnswerReward::kRule) {
    RIL_CHECK(judged.decisions.size() == responses.size(), "learner: ", judged.decisions.size(),
              " judge verdicts for ", responses.size(), " responses");
    out.judge = torch::tensor(std::vector<int64_t>(judged.decisions.begin(), judged.decisions.end()), torch::kInt64);
    answer = out.judge.eq(static_cast<int64_t>(algo::JudgeDecision::kCorrect));  // unparsed (or cut): 0
  }
  out.rewards = algo::compute_rewards(prob, answer, ro);
  const torch::Tensor groups = torch::tensor(group_index, torch::kInt64);
  const torch::Tensor student = torch::tensor(is_student, torch::kUInt8).to(torch::kBool);
  out.advantages = options_.student_baseline ? algo::student_baseline_advantages(out.rewards.total, groups, student)
                                             : algo::group_advantages(out.rewards.total, groups);
  if (options_.teacher_answer_advantage) {
    out.advantages = algo::answer_teacher_advantages(out.advantages, student, answer);
  }
  if (options_.imitation_weight != 1.0 || options_.imitation_per_response) {
    std::vector<int64_t> tokens;  // what the loss sums over: each row's training ids
    for (const Response& r : responses) tokens.push_back(static_cast<int64_t>(training_ids(r).size()));
    out.advantages = algo::scale_teacher_advantages(out.advantages, student, torch::tensor(tokens, torch::kInt64),
                                                    options_.imitation_weight, options_.imitation_per_response);
  }
  return out;
}

RewardStats Learner::reward_stats(const Responses& responses, const Scored& s) const {
  const int64_t n = static_cast<int64_t>(responses.size());
  torch::Tensor is_student = torch::zeros({n}, torch::kBool);
  torch::Tensor lengths = torch::zeros({n}, torch::kFloat32);
  torch::Tensor cut = torch::zeros({n}, torch::kFloat32);
  for (int64_t i = 0; i < n; ++i) {
    const Response& r = responses[static_cast<size_t>(i)];
    is_student[i] = r.is_student();
    lengths[i] = static_cast<float>(r.is_student() ? r.ids.size()
                                    : r.finished   ? builder_.response_ids(r.text).size()
                                                   : std::min<size_t>(response_text_ids(tokenizer_, r.text).size(),
                                                                      static_cast<size_t>(options_.budget)));
    cut[i] = r.finished ? 0.0F : 1.0F;
  }
  auto mean_where = [&](const torch::Tensor& v, bool student) {
    const torch::Tensor m = student ? is_student : is_student.logical_not();
    return m.any().item<bool>() ? v.to(torch::kFloat64).masked_select(m).mean().item<double>() : std::nan("");
  };
  const bool d = options_.use_discriminator;
  const torch::Tensor correct = s.correct.to(torch::kFloat32);
  RewardStats out;
  out.reward_student = mean_where(s.rewards.total, true);
  out.reward_teacher = mean_where(s.rewards.total, false);
  out.reward_disc_student = d ? mean_where(s.rewards.discriminator, true) : std::nan("");
  out.reward_disc_teacher = d ? mean_where(s.rewards.discriminator, false) : std::nan("");
  out.answer_acc_student = mean_where(correct, true);
  out.answer_acc_teacher = mean_where(correct, false);
  out.response_len_student = mean_where(lengths, true);
  out.response_len_teacher = mean_where(lengths, false);
  out.limit_hit_student = mean_where(cut, true);
  out.limit_hit_teacher = options_.use_teachers ? mean_where(cut, false) : std::nan("");
  if (s.judge.defined()) {
    const torch::Tensor judge_correct = s.judge.eq(static_cast<int64_t>(algo::JudgeDecision::kCorrect));
    out.judge_acc_student = mean_where(judge_correct.to(torch::kFloat32), true);
    out.judge_acc_teacher = options_.use_teachers ? mean_where(judge_correct.to(torch::kFloat32), false) : std::nan("");
    out.judge_unparsed =
        static_cast<double>(s.judge.eq(static_cast<int64_t>(algo::JudgeDecision::kUnparsed)).sum().item<int64_t>());
    if (options_.answer_reward == algo::AnswerReward::kBoth && n > 0) {
      out.judge_agreement = judge_correct.eq(s.correct).to(torch::kFloat64).mean().item<double>();
    }
  }
  return out;
}

std::vector<int64_t> Learner::training_ids(const Response& r) const {
  std::vector<int64_t> ids = r.is_student() ? r.ids
                             : r.finished   ? builder_.response_ids(r.text)
                                            : response_text_ids(tokenizer_, r.text);
  if (static_cast<int64_t>(ids.size()) > options_.budget) ids.resize(static_cast<size_t>(options_.budget));
  return ids;
}

PolicyStats Learner::update(int64_t step, const std::vector<int64_t>& questions, const Responses& responses,
                            const torch::Tensor& advantages) {
  const std::map<int64_t, int64_t> position = question_positions(questions);
  std::vector<int64_t> mine;  // this rank's share: question positions in the step, ascending
  for (int64_t j = 0; j < static_cast<int64_t>(questions.size()); ++j) {
    if (dist::owns(j, group_)) mine.push_back(j);
  }
  student_->module().train();
  if (optimizer_) optimizer_->zero_grad();  // ShardedAdamW leaves no gradients behind
  PolicySums local;
  // --accumulate K: chunk k holds the questions mine[begin, end); its rows keep their order.
  for (int64_t k = 0; k < options_.accumulate; ++k) {
    const auto [begin, end] = dist::even_range(static_cast<int64_t>(mine.size()), k, options_.accumulate);
    if (begin == end) continue;
    std::vector<int64_t> rows;  // positions in `responses`
    for (size_t i = 0; i < responses.size(); ++i) {
      const int64_t j = position.at(responses[i].question);
      if (j >= mine[static_cast<size_t>(begin)] && j <= mine[static_cast<size_t>(end - 1)] && dist::owns(j, group_)) {
        rows.push_back(static_cast<int64_t>(i));
      }
    }
    if (!rows.empty()) local += backward_on(step, responses, rows, advantages);
  }
  const PolicySums sum = PolicySums::from(dist::allreduce_values(host_, local.values(), dist::ReduceOp::kSum));
  bool stepped = false;
  if (sharded_) {
    stepped = sharded_->step(sum.loss, options_.max_grad_norm);
  } else {
    dist::allreduce_gradients(group_, params_, dist::ReduceOp::kSum);
    stepped = step_if_finite(*optimizer_, params_, sum.loss, options_.max_grad_norm);
  }
  if (!stepped) {
    ++skipped_updates_;
    if (group_.rank() == 0) {
      log_warn("train", "step ", step + 1, ": non-finite policy loss or gradient, update skipped (", skipped_updates_,
               " so far, --max-bad-steps ", options_.max_bad_steps, ")");
    }
    if (skipped_updates_ > options_.max_bad_steps) {
      failure_ = cat("ril train: ", skipped_updates_, " steps with a non-finite loss (more than --max-bad-steps ",
                     options_.max_bad_steps, "); lower --lr, or check the inputs; the last checkpoint is in ",
                     options_.checkpoint_dir);
    }
    return sum.stats();
  }
  const io::NamedTensors named = named_parameters(student_->module());
  if (options_.inf_param_steps.count(step + 1)) {  // fault injection (tests)
    torch::NoGradGuard no_grad;
    named.back().second.view(-1)[0].fill_(std::numeric_limits<float>::infinity());
  }
  const std::string bad = first_non_finite(named);
  if (!bad.empty()) {
    failure_ = cat("ril train: step ", step + 1, ": the student's parameter ", bad,
                   " is not finite after the update (finite loss and gradients; lr ", options_.lr,
                   "); the run stops before these weights reach the rollout ranks or a checkpoint. Lower --lr or ",
                   "--max-grad-norm; the last checkpoint is in ", options_.checkpoint_dir);
  }
  return sum.stats();
}

// The policy loss on the rows `rows` of `responses`, its gradients accumulated into the
// student's; returns the loss's figures as sums over these rows.
Learner::PolicySums Learner::backward_on(int64_t step, const Responses& responses, const std::vector<int64_t>& rows,
                                const torch::Tensor& advantages) {
  std::vector<int64_t> rows_q;
  std::vector<std::vector<int64_t>> response_ids;
  torch::Tensor student_rows = torch::zeros({static_cast<int64_t>(rows.size())}, torch::kBool);
  for (size_t k = 0; k < rows.size(); ++k) {
    const Response& r = responses[static_cast<size_t>(rows[k])];
    rows_q.push_back(r.question);
    response_ids.push_back(training_ids(r));
    student_rows[static_cast<int64_t>(k)] = r.is_student();
  }
  const SftBatch b = builder_.build_with_responses(dataset_, rows_q, response_ids);
  torch::Tensor entropy;
  const torch::Tensor logp = response_logprobs(*student_, b, &entropy);
  torch::Tensor logp_ref;
  {  // also with beta = 0: the KL is still measured and logged
    torch::NoGradGuard no_grad;
    logp_ref = response_logprobs(*reference_, b);
  }
  algo::PolicyLossInput pi;
  pi.logp = logp;
  pi.logp_old = options_.behaviour_logprobs ? behaviour_logprobs(responses, rows, logp) : logp.detach();
  pi.logp_ref = logp_ref;
  pi.advantages = advantages.index_select(0, torch::tensor(rows, torch::kInt64)).to(torch::kFloat32);
  pi.mask = b.response_mask;
  algo::PolicyLossOptions po;
  po.clip_eps = options_.clip_eps;
  po.kl_beta = options_.beta;
  po.normaliser = algo::dr_grpo_normaliser(options_.budget, static_cast<int64_t>(responses.size()));
  const algo::PolicyLossResult res = algo::policy_loss(pi, po);
  torch::Tensor loss = res.loss;
  if (options_.nan_steps.count(step + 1)) loss = loss * std::nan("");  // fault injection (tests)
  loss.backward();
  const torch::Tensor valid = b.response_mask.to(torch::kBool);
  const torch::Tensor smask = valid & student_rows.unsqueeze(1);
  const torch::Tensor tmask = valid & student_rows.logical_not().unsqueeze(1);
  auto masked_sum = [](const torch::Tensor& v, const torch::Tensor& m) {
    return v.to(torch::kFloat64).masked_select(m).sum().item<double>();
  };
  PolicySums s;
  s.loss = loss.item<double>();
  s.pg_term = res.pg_term.item<double>();
  s.kl_student = masked_sum(res.token_kl, smask);
  s.entropy_student = masked_sum(entropy, smask);
  s.student_tokens = smask.sum().item<double>();
  s.tokens = res.num_tokens.item<double>();
  s.all_tokens = static_cast<double>(b.total_tokens);
  s.kl_teacher = masked_sum(res.token_kl, tmask);
  s.teacher_tokens = tmask.sum().item<double>();
  s.kl = masked_sum(res.token_kl, valid);
  return s;
}

// logp_old [rows, R] for --max-staleness 1: student row k's response columns hold the log-probs
// its rollout rank sampled them with (same ids: training_ids keeps a student's sampled ids); the
// teacher rows and the padding keep pi_theta's own values (ratio 1).
torch::Tensor Learner::behaviour_logprobs(const Responses& responses, const std::vector<int64_t>& rows,
                                          const torch::Tensor& logp) const {
  torch::Tensor old = logp.detach().to(torch::kCPU).to(torch::kFloat32).clone();
  auto acc = old.accessor<float, 2>();
  for (size_t k = 0; k < rows.size(); ++k) {
    const Response& r = responses[static_cast<size_t>(rows[k])];
    if (!r.is_student()) continue;
    const int64_t n = std::min<int64_t>({static_cast<int64_t>(r.ids.size()), options_.budget, old.size(1)});
    RIL_CHECK(static_cast<int64_t>(r.logprobs.size()) >= n, "learner: student response (question ", r.question,
              ", sample ", r.sample, ") carries ", r.logprobs.size(), " behaviour log-probs for ", r.ids.size(),
              " ids");
    for (int64_t i = 0; i < n; ++i) acc[static_cast<int64_t>(k)][i] = r.logprobs[static_cast<size_t>(i)];
  }
  return old.to(logp.device()).to(logp.scalar_type());
}

double Learner::validation_accuracy(const std::vector<int64_t>& questions, at::Device device) {
  if (!val_answerer_) {
    val_answerer_ = std::make_unique<GreedyAnswerer>(tokenizer_, student_->m.config, dataset_, options_.val_max_new_tokens,
                                                     "ril train --val-every");
  }
  student_->module().eval();
  double correct = 0, answered = 0;
  for (const std::vector<int64_t>& batch : eval_batches_for_rank(questions, 16, host_.rank(), host_.size())) {
    for (const EvalAnswer& a : val_answerer_->answer(student_->m, dataset_, batch, device)) {
      correct += checker_.check(a.response, dataset_.answer(a.index), dataset_.question(a.index)).correct;
      answered += 1;
    }
  }
  const std::vector<double> total = dist::allreduce_values(host_, {correct, answered}, dist::ReduceOp::kSum);
  return total[0] / std::max(1.0, total[1]);
}

// The optimizer as roles/optimizer_shards.h takes it.
GroupOptimizer Learner::group_optimizer() {
  return {optimizer_.get(), sharded_.get(), &params_, named_parameters(student_->module())};
}

void Learner::save_state(io::H5File& file, const std::vector<int>& learner_world_ranks) {
  io::save_tensors(file, names::kStudent, named_parameters(student_->module()));
  if (!options_.train) return;
  with_state_back(
      offload_.get(),
      [&] { save_optimizer_state(file, kStudentOptimizerNames, group_optimizer(), learner_world_ranks); },
      [this] { go_idle(); });
}

void Learner::save_shard(io::H5File& part) {
  if (!options_.train) return;
  with_state_back(
      offload_.get(), [&] { save_optimizer_shard(part, kStudentOptimizerNames, group_optimizer()); },
      [this] { go_idle(); });
}

void Learner::load_state(const io::H5File& file, const std::function<std::string(int)>& part_path) {
  if (!options_.train) return;  // disc stage: the student stays the SFT model as loaded
  torch::NoGradGuard no_grad;
  if (offload_) offload_->bring_back();  // a fresh job has nothing away; the next update puts it away
  io::load_tensors_into(file, names::kStudent, named_parameters(student_->module()));
  load_optimizer_state(file, kStudentOptimizerNames, group_optimizer(), part_path);
}

}  // namespace ril::roles
