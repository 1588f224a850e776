#include "ril/jobs/train_step.h"

#include <cstdio>

#include "ril/common/logging.h"
#include "ril/common/stopwatch.h"
#include "ril/dist/agreement.h"
#include "ril/dist/host_messages.h"
#include "ril/model/checkpoint.h"

namespace ril::jobs {
namespace {

using dist::Channel;
using dist::Role;
using roles::Responses;

roles::LearnerOptions learner_options(const TrainInputs& in, const TrainConfig& t, const std::string& checkpoint_dir) {
  roles::LearnerOptions o;
  o.train = in.train_student;
  o.use_discriminator = in.use_disc;
  o.use_teachers = in.use_teachers;
  o.use_answer = !t.no_answer_reward;
  o.answer_reward = in.answer_reward;
  o.student_baseline = t.advantage == "student-baseline";
  o.imitation_weight = t.imitation_weight;
  o.imitation_per_response = t.imitation_per_response;
  o.teacher_answer_advantage = t.teacher_advantage == "answer";
  o.reference_dir = t.student;
  o.lr = t.lr;
  o.weight_decay = t.weight_decay;
  o.max_grad_norm = t.max_grad_norm;
  o.accumulate = t.accumulate;
  o.checkpoint_activations = t.checkpoint_activations;
  o.shard = parse_shard_mode(t.shard);
  o.offload = parse_offload_mode(t.offload);
  o.clip_eps = t.clip_eps;
  o.beta = t.beta;
  o.budget = t.max_new_tokens;
  o.max_bad_steps = t.max_bad_steps;
  o.checkpoint_dir = checkpoint_dir;
  o.nan_steps = in.nan_steps;
  o.inf_param_steps = in.inf_param_steps;
  o.val_max_new_tokens = t.val_max_new_tokens;
  o.behaviour_logprobs = t.max_staleness > 0;
  return o;
}

roles::DiscriminatorTrainerOptions discriminator_options(const TrainInputs& in, const TrainConfig& t, uint64_t seed) {
  roles::DiscriminatorTrainerOptions o;
  if (in.ril()) o.init_dir = t.discriminator;
  o.seed = seed;
  o.train = in.train_disc;
  o.lr = in.ril() ? t.disc_lr : t.pretrain_lr;
  if (!in.ril()) o.schedule = algo::LrScheduleOptions{algo::LrScheduleKind::kLinear, t.pretrain_lr, t.pretrain_lr_end, t.steps};
  o.weight_decay = t.weight_decay;
  o.max_grad_norm = t.max_grad_norm;
  o.accumulate = t.accumulate;
  o.checkpoint_activations = t.checkpoint_activations;
  o.shard = parse_shard_mode(t.shard);
  o.offload = parse_offload_mode(t.offload);
  o.budget = t.max_new_tokens;
  o.system = t.disc_system;
  return o;
}

roles::RolloutOptions rollout_options(const TrainConfig& t, uint64_t seed) {
  roles::RolloutOptions o;
  o.group = t.group;
  o.max_new_tokens = t.max_new_tokens;
  o.temperature = t.temperature;
  o.top_p = t.top_p;
  o.top_k = t.top_k;
  o.repetition_penalty = t.repetition_penalty;
  o.seed = seed;
  return o;
}

// Runs f, adding its wall time to `seconds`.
template <typename F>
auto timed(double& seconds, F&& f) {
  const Stopwatch clock;
  auto out = f();
  seconds += clock.seconds();
  return out;
}

// --offload's scratch file of a component on this rank (CPU): <run-dir>/offload/rank-NNNN-<who>.bin.
std::string offload_path(const std::string& run_dir, int world_rank, const char* who) {
  char name[64];
  std::snprintf(name, sizeof name, "rank-%04d-%s.bin", world_rank, who);
  return run_dir + "/offload/" + name;
}

}  // namespace

TrainRoles make_train_roles(const dist::RankGroups& groups, const Config& config, const TrainInputs& in,
                            const std::string& checkpoint_dir) {
  const TrainConfig& t = config.train;
  const uint64_t seed = config.common.seed;
  TrainRoles r;
  if (groups.has(Role::kRollout) || groups.has(Role::kDiscriminator) || groups.has(Role::kLearner)) {
    r.student = std::make_shared<roles::PolicyModel>();
    r.student->m = model::load_pretrained(t.student);
  }
  if (groups.has(Role::kLearner)) {
    roles::LearnerOptions o = learner_options(in, t, checkpoint_dir);
    o.offload_path = offload_path(config.common.run_dir, groups.world_rank(), "learner");
    r.learner = std::make_unique<roles::Learner>(r.student, *in.tokenizer, *in.dataset, o,
                                                 *groups.group(Role::kLearner), *groups.host_group(Role::kLearner));
  }
  if (groups.has(Role::kDiscriminator) && in.use_disc) {
    roles::DiscriminatorTrainerOptions o = discriminator_options(in, t, seed);
    o.offload_path = offload_path(config.common.run_dir, groups.world_rank(), "discriminator");
    r.discriminator = std::make_unique<roles::DiscriminatorTrainer>(
        *r.student, *in.tokenizer, o, *groups.group(Role::kDiscriminator), *groups.host_group(Role::kDiscriminator));
  }
  if (groups.has(Role::kTeacher) && in.use_teachers) {
    r.teacher = std::make_unique<roles::Teacher>(
        *in.tokenizer, roles::TeacherOptions{t.teacher_cache, in.teachers, t.group, t.max_new_tokens, seed});
  }
  if (groups.has(Role::kJudge) && in.use_judge()) {
    roles::JudgeWorkerOptions o;
    o.dir = t.judge;
    o.prompt = *in.judge_prompt;
    o.max_new_tokens = t.judge_max_new_tokens;
    o.cache_path = judge_verdicts_path(config.common.run_dir);
    o.cache_settings = judge_verdict_settings(t, in);
    o.kill_after_steps = in.kill_after_verdict_steps;
    r.judge = std::make_unique<roles::JudgeWorker>(*in.dataset, std::move(o), *groups.host_group(Role::kJudge),
                                                   groups.device());
  }
  if (groups.has(Role::kRollout)) {
    r.rollout = std::make_unique<roles::RolloutWorker>(r.student, *in.tokenizer, *in.dataset, rollout_options(t, seed));
  }
  return r;
}

TrainStep::TrainStep(const dist::RankGroups& groups, TrainRoles& roles, const TrainInputs& in, const TrainConfig& t,
                     uint64_t seed)
    : groups_(groups), roles_(roles), in_(in), t_(t), sampler_(in.train, seed, t.questions, 1) {
  if (in.train_student && groups.channel(Channel::kWeights) != nullptr) {
    weight_sync_ = std::make_unique<dist::WeightSync>(*groups.channel(Channel::kWeights),
                                                      groups.channel_root(Channel::kWeights, Role::kLearner),
                                                      roles::named_parameters(roles.student->module()));
  }
}

void TrainStep::sync_weights(int64_t version) {
  if (weight_sync_) weight_sync_->sync(version);
}

StepReport TrainStep::run(int64_t step) {
  StepReport report;
  step_ = step;
  stale_dropped_ = 0;
  // 1. pi_old = pi_theta: the rollout ranks hold the learner's weights of the last step
  //    (--max-staleness 1: of the step before, and pi_old is the behaviour policy).
  const std::vector<int64_t> questions = sampler_.global_batch(step);  // the same on every rank
  // 2-3. G student and G teacher responses per question, each rank its share of the questions.
  const Responses sampled = rollouts_of(step, questions, report.times);
  const Responses cached = teachers(step, questions, report.times);
  // Both lists reach every discriminator rank and every learner rank.
  Responses for_disc, for_learner;
  double waited = 0;  // on a learner rank: how long the step's responses took to arrive
  timed(waited, [&] {
    if (in_.use_disc) for_disc = deliver(Role::kDiscriminator, sampled, cached);
    for_learner = deliver(Role::kLearner, sampled, cached);
    return 0;
  });
  if (roles_.learner) report.times.wait_rollouts = waited;
  if (roles_.learner && in_.train_student) {
    double lag = 0, n = 0;
    for (const roles::Response& r : for_learner) {
      if (!r.is_student()) continue;
      lag += static_cast<double>(step + 1 - r.version);
      n += 1;
    }
    report.staleness = n > 0 ? lag / n : 0.0;
  }
  // 4. D: one update on the 2G responses per question, then D(o) for each; on to the learners.
  if (in_.use_disc) report.disc = deliver_scores(discriminate(step, questions, for_disc, report.times));
  // 5 (--judge). The judge's verdicts on all 2G responses, from the judge ranks to the learners.
  if (in_.use_judge()) report.judge = deliver_verdicts(judge(step, collect(Role::kJudge, sampled, cached), report.times));
  // 5-6. Rewards, advantages, the policy update.
  if (roles_.learner) {
    report.learner = timed(report.times.learner,
                           [&] { return roles_.learner->step(step, questions, for_learner, report.disc, report.judge); });
  }
  // --max-staleness 1: the rollout ranks sample the next step now, with the weights they hold,
  // while the learner (and D) work on this one; the agreement below waits for both.
  if (roles_.rollout && t_.max_staleness > 0 && step + 1 < t_.steps) {
    ahead_ = students(step + 1, sampler_.global_batch(step + 1), report.times);
    ahead_step_ = step + 1;
  }
  report.stale_dropped = stale_dropped_;
  // Before any weights move (here, or into a checkpoint after the step): a role that cannot go
  // on (too many non-finite losses, a non-finite parameter) ends the job on every rank at once,
  // with its message, instead of leaving the others waiting in the weight sync.
  std::string failure = roles_.learner ? roles_.learner->failure() : std::string();
  if (failure.empty() && roles_.discriminator) failure = roles_.discriminator->failure();
  dist::agree_or_throw(*groups_.channel(Channel::kWorld), failure, dist::ErrorKind::kRuntime);
  // The new weights to the rollout and discriminator ranks.
  sync_weights(step + 2);
  report.val_acc = validate(step + 1);
  return report;
}

// This rank's student responses of step `step` with the weights it holds now, tagged with their version.
Responses TrainStep::students(int64_t step, const std::vector<int64_t>& questions, StepTimes& times) {
  if (!roles_.rollout) return {};
  const int64_t version = weight_sync_ ? weight_sync_->last_version() : 0;
  return timed(times.rollout, [&] {
    return roles_.rollout->sample(step, questions, *groups_.host_group(Role::kRollout), version);
  });
}

// The responses of step `step`: sampled during the step before (--max-staleness 1), else now.
Responses TrainStep::rollouts_of(int64_t step, const std::vector<int64_t>& questions, StepTimes& times) {
  if (!roles_.rollout) return {};
  if (ahead_ && ahead_step_ == step) {
    Responses out = std::move(*ahead_);
    ahead_.reset();
    return out;
  }
  if (t_.max_staleness > 0 && groups_.host_group(Role::kRollout)->rank() == 0) {
    log_info("train", "step ", step + 1, ": no rollouts in flight (first step of this job), sampled in lockstep");
  }
  return students(step, questions, times);
}

Responses TrainStep::teachers(int64_t step, const std::vector<int64_t>& questions, StepTimes& times) {
  if (!roles_.teacher) return {};
  return timed(times.teacher, [&] { return roles_.teacher->pick(step, questions, *groups_.host_group(Role::kTeacher)); });
}

// Students and teachers of every rank to the receiver's root (one message per rank and list),
// then from the root to every member of the receiver's group; canonical order.
Responses TrainStep::deliver(Role receiver, const Responses& students, const Responses& teachers) {
  Responses all = collect(receiver, students, teachers);
  dist::Communicator* group = groups_.host_group(receiver);
  if (group == nullptr || group->size() == 1) return all;
  const std::string bytes = dist::broadcast_bytes(*group, group->rank() == 0 ? roles::encode_responses(all) : "", 0);
  return group->rank() == 0 ? all : roles::decode_responses(bytes);
}

// Students and teachers of every rank on the receiver's root only ({} elsewhere), canonical order.
Responses TrainStep::collect(Role receiver, const Responses& students, const Responses& teachers) {
  Responses all = gather_to(Channel::kRollouts, receiver, students);
  if (in_.use_teachers) all = roles::merge_responses(std::move(all), gather_to(Channel::kTeacherResponses, receiver, teachers));
  return all;
}

// The channel's responses on the receiver's root, merged in canonical order ({} elsewhere).
Responses TrainStep::gather_to(Channel channel, Role receiver, const Responses& mine) {
  dist::Communicator* ch = groups_.channel(channel);
  if (ch == nullptr) return {};
  const int root = groups_.channel_root(channel, receiver);
  Responses all;
  for (const std::string& part : dist::gather_bytes(*ch, roles::encode_responses(mine), root)) {
    Responses got = roles::decode_responses(part);
    all.insert(all.end(), std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
  }
  // A student response more than --max-staleness weight versions old is never used (the learner
  // holds version step + 1 before its update). With weights moving in lockstep, none is.
  if (channel == Channel::kRollouts && in_.train_student && ch->rank() == root) {
    const int64_t dropped = roles::drop_stale_responses(all, step_ + 1, t_.max_staleness);
    if (dropped > 0) {
      log_warn("train", "step ", step_ + 1, ": ", dropped, " student responses older than --max-staleness ",
               t_.max_staleness, " dropped");
      if (receiver == Role::kLearner) stale_dropped_ += dropped;
    }
  }
  roles::sort_responses(all);
  return all;
}

roles::DiscriminatorResult TrainStep::discriminate(int64_t step, const std::vector<int64_t>& questions,
                                                   const Responses& responses, StepTimes& times) {
  if (!roles_.discriminator) return {};
  return timed(times.disc, [&] { return roles_.discriminator->step(step, questions, responses); });
}

// D's result from the discriminator root to the learner root (kScores), then to every learner.
roles::DiscriminatorResult TrainStep::deliver_scores(roles::DiscriminatorResult result) {
  if (dist::Communicator* ch = groups_.channel(Channel::kScores)) {
    const int from = groups_.channel_root(Channel::kScores, Role::kDiscriminator);
    const int to = groups_.channel_root(Channel::kScores, Role::kLearner);
    if (from != to) {
      const std::string bytes = dist::relay_bytes(*ch, ch->rank() == from ? result.encode() : "", from, to);
      if (ch->rank() == to) result = roles::DiscriminatorResult::decode(bytes);
    }
  }
  dist::Communicator* learners = groups_.host_group(Role::kLearner);
  if (learners == nullptr || learners->size() == 1) return result;
  const std::string bytes = dist::broadcast_bytes(*learners, learners->rank() == 0 ? result.encode() : "", 0);
  return roles::DiscriminatorResult::decode(bytes);
}

roles::JudgeResult TrainStep::judge(int64_t step, const Responses& responses, StepTimes& times) {
  if (!roles_.judge) return {};
  return timed(times.judge, [&] { return roles_.judge->judge(step, responses); });
}

// The verdicts from the judge root to the learner root (kVerdicts), then to every learner.
roles::JudgeResult TrainStep::deliver_verdicts(roles::JudgeResult result) {
  if (dist::Communicator* ch = groups_.channel(Channel::kVerdicts)) {
    const int from = groups_.channel_root(Channel::kVerdicts, Role::kJudge);
    const int to = groups_.channel_root(Channel::kVerdicts, Role::kLearner);
    if (from != to) {
      const std::string bytes = dist::relay_bytes(*ch, ch->rank() == from ? result.encode() : "", from, to);
      if (ch->rank() == to) result = roles::JudgeResult::decode(bytes);
    }
  }
  dist::Communicator* learners = groups_.host_group(Role::kLearner);
  if (learners == nullptr) return {};
  if (learners->size() == 1) return result;
  return roles::JudgeResult::decode(dist::broadcast_bytes(*learners, learners->rank() == 0 ? result.encode() : "", 0));
}

// --val-every: the learner group's greedy accuracy after `updates` updates.
std::optional<double> TrainStep::validate(int64_t updates) {
  if (!roles_.learner || !in_.train_student || t_.val_every <= 0) return std::nullopt;
  if (updates % t_.val_every != 0 && updates != t_.steps) return std::nullopt;
  return roles_.learner->validation_accuracy(in_.val, groups_.device());
}

}  // namespace ril::jobs
