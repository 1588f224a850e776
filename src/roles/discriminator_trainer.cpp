#include "ril/roles/discriminator_trainer.h"

#include <map>

#include "ril/algo/discriminator_loss.h"
#include "ril/common/logging.h"
#include "ril/common/seed.h"
#include "ril/dist/byte_codec.h"
#include "ril/dist/gradient_sync.h"
#include "ril/dist/host_messages.h"
#include "ril/dist/sharding.h"
#include "ril/io/checkpoint_schema.h"
#include "ril/io/module_state.h"
#include "ril/model/checkpoint.h"
#include "ril/roles/finite_parameters.h"
#include "ril/roles/policy_model.h"

namespace ril::roles {

namespace names = io::checkpoint_names;

// ---- messages ----------------------------------------------------------------------------------

std::string DiscriminatorResult::encode() const {
  dist::ByteWriter out;
  out.put_vector(scores);
  out.put(stats);
  out.put(skipped_updates);
  return out.take();
}

DiscriminatorResult DiscriminatorResult::decode(const std::string& bytes) {
  dist::ByteReader in(bytes);
  DiscriminatorResult r;
  r.scores = in.get_vector<double>();
  r.stats = in.get<DiscriminatorStats>();
  r.skipped_updates = in.get<int64_t>();
  in.expect_done("discriminator result");
  return r;
}

// ---- the step ----------------------------------------------------------------------------------

struct DiscriminatorTrainer::Share {
  std::vector<int64_t> positions;  // indices into the step's responses
  torch::Tensor ids, mask;         // D prompts [B, T] (undefined when empty)
  torch::Tensor labels;            // [B] float32: 1 student, 0 teacher
  bool empty() const { return positions.empty(); }
};

struct DiscriminatorTrainer::Sums {
  double loss = 0, student_correct = 0, students = 0, teacher_correct = 0, teachers = 0, student_prob = 0,
         teacher_prob = 0;
  static Sums of(const algo::DiscriminatorLossResult& r) {
    return {r.loss_sum.item<double>(),         r.student_correct.item<double>(), r.students.item<double>(),
            r.teacher_correct.item<double>(),  r.teachers.item<double>(),        r.student_prob_sum.item<double>(),
            r.teacher_prob_sum.item<double>()};
  }
  Sums& operator+=(const Sums& o) {
    loss += o.loss;
    student_correct += o.student_correct;
    students += o.students;
    teacher_correct += o.teacher_correct;
    teachers += o.teachers;
    student_prob += o.student_prob;
    teacher_prob += o.teacher_prob;
    return *this;
  }
  // Added up over the group's host communicator.
  Sums over(dist::Communicator& host) const {
    const std::vector<double> v = dist::allreduce_values(
        host, {loss, student_correct, students, teacher_correct, teachers, student_prob, teacher_prob},
        dist::ReduceOp::kSum);
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
  }
};

// D's system message: the one it was trained with when it comes from a directory (train_inputs
// refuses a different --disc-system before any rank starts), else --disc-system or the paper's.
static std::string discriminator_system(const DiscriminatorTrainerOptions& o) {
  if (!o.init_dir.empty()) return stored_discriminator_system(o.init_dir);
  return o.system.empty() ? std::string(kPaperDiscriminatorSystem) : o.system;
}

DiscriminatorTrainer::DiscriminatorTrainer(PolicyModel& student, const text::BpeTokenizer& tokenizer,
                                           const DiscriminatorTrainerOptions& options, dist::Communicator& group,
                                           dist::Communicator& host_group)
    : options_(options), group_(group), host_(host_group), prompt_(tokenizer, options.budget, discriminator_system(options)) {
  if (!options_.init_dir.empty()) {
    disc_ = model::load_discriminator(options_.init_dir);
  } else {
    disc_ = model::Qwen2Discriminator(student.m.config.text());
    disc_->init_from_student(student.m.language_model(), splitmix64(options_.seed ^ kDiscInitStream));
  }
  for (auto& p : disc_->parameters()) params_.push_back(p);
  disc_->model->set_checkpoint_activations(options_.checkpoint_activations);
  make_group_adamw(options_.shard, options_.lr, options_.weight_decay, group_, params_, optimizer_, sharded_);
  if (options_.offload != OffloadMode::kNone) offload_ = std::make_unique<StateOffload>(options_.offload_path);
}

// --offload optimizer: D's AdamW moments (torch's or this rank's shard); optimizer+model: also
// D's weights. The gradients are released separately (go_idle).
std::vector<at::Tensor> DiscriminatorTrainer::idle_state() {
  std::vector<at::Tensor> out = adamw_state_tensors(optimizer_.get(), sharded_.get());
  if (options_.offload == OffloadMode::kOptimizerAndModel) {
    for (const at::Tensor& p : params_) out.push_back(p);
  }
  return out;
}

void DiscriminatorTrainer::go_idle() {
  if (!offload_) return;
  roles::go_idle(*offload_, params_, idle_state(), offload_mode_name(options_.offload), "the discriminator",
                 group_.rank() == 0, offload_logged_);
}

DiscriminatorResult DiscriminatorTrainer::step(int64_t step, const std::vector<int64_t>& questions,
                                               const Responses& responses) {
  std::map<int64_t, int64_t> position;  // question -> its position in the step
  for (size_t j = 0; j < questions.size(); ++j) position.emplace(questions[j], static_cast<int64_t>(j));
  Share share;
  std::vector<std::string> texts;
  std::vector<float> labels;
  for (size_t i = 0; i < responses.size(); ++i) {
    if (!dist::owns(position.at(responses[i].question), group_)) continue;
    share.positions.push_back(static_cast<int64_t>(i));
    texts.push_back(responses[i].text);
    labels.push_back(responses[i].is_student() ? 1.0F : 0.0F);
  }
  if (!share.empty()) std::tie(share.ids, share.mask) = prompt_.batch(texts);
  share.labels = torch::tensor(labels, torch::kFloat32);

  const double n = static_cast<double>(responses.size());
  if (offload_) offload_->bring_back();
  Sums sums;
  if (options_.train) sums = update(step, share, n);
  const std::vector<double> scores = score(share, options_.train ? nullptr : &sums, n);
  go_idle();
  return collect(share, scores, sums, responses.size());
}

DiscriminatorTrainer::Sums DiscriminatorTrainer::update(int64_t step, const Share& share, double responses) {
  disc_->train();
  if (options_.schedule) {
    const double lr = algo::LrSchedule(*options_.schedule).lr(step);
    if (optimizer_) algo::set_learning_rate(*optimizer_, lr);
    if (sharded_) sharded_->set_lr(lr);
  }
  if (optimizer_) optimizer_->zero_grad();  // ShardedAdamW leaves no gradients behind
  Sums sums;
  algo::DiscriminatorLossOptions lo;
  lo.normaliser = responses;
  const int64_t rows = static_cast<int64_t>(share.positions.size());
  for (int64_t k = 0; k < options_.accumulate; ++k) {  // micro-batch k: rows [begin, end) of the share
    const auto [begin, end] = dist::even_range(rows, k, options_.accumulate);
    if (begin == end) continue;
    const algo::DiscriminatorLossResult loss = algo::discriminator_loss(
        disc_->forward(share.ids.narrow(0, begin, end - begin), share.mask.narrow(0, begin, end - begin)),
        share.labels.narrow(0, begin, end - begin), lo);
    loss.loss.backward();
    sums += Sums::of(loss);
  }
  sums = sums.over(host_);
  bool stepped = false;
  if (sharded_) {
    stepped = sharded_->step(sums.loss, options_.max_grad_norm);
  } else {
    dist::allreduce_gradients(group_, params_, dist::ReduceOp::kSum);
    stepped = step_if_finite(*optimizer_, params_, sums.loss, options_.max_grad_norm);
  }
  if (!stepped) {
    ++skipped_updates_;
    if (group_.rank() == 0) log_warn("train", "step ", step + 1, ": non-finite discriminator loss, update skipped");
  } else if (const std::string bad = first_non_finite(named_parameters(*disc_)); !bad.empty()) {
    failure_ = cat("ril train: step ", step + 1, ": the discriminator's parameter ", bad,
                   " is not finite after the update (finite loss and gradients); the run stops before it reaches a ",
                   "checkpoint. Lower the discriminator's lr (--disc-lr, --pretrain-lr) or --max-grad-norm");
  }
  return sums;
}

// D(o) of this rank's share with the current weights; frozen, also the statistics (summed over
// the group into *frozen_sums).
std::vector<double> DiscriminatorTrainer::score(const Share& share, Sums* frozen_sums, double responses) {
  std::vector<double> scores(share.positions.size());
  torch::NoGradGuard no_grad;
  disc_->eval();
  if (!share.empty()) {
    const torch::Tensor logits = disc_->forward(share.ids, share.mask);
    const torch::Tensor p = torch::sigmoid(logits).to(torch::kFloat64).contiguous();
    std::copy(p.data_ptr<double>(), p.data_ptr<double>() + p.numel(), scores.begin());
    if (frozen_sums) {
      algo::DiscriminatorLossOptions lo;
      lo.normaliser = responses;
      *frozen_sums = Sums::of(algo::discriminator_loss(logits, share.labels, lo));
    }
  }
  if (frozen_sums) *frozen_sums = frozen_sums->over(host_);
  return scores;
}

// The group root puts every rank's (position, score) pairs into canonical order.
DiscriminatorResult DiscriminatorTrainer::collect(const Share& share, const std::vector<double>& scores,
                                                  const Sums& sums, size_t responses) {
  dist::ByteWriter mine;
  mine.put_vector(share.positions);
  mine.put_vector(scores);
  const std::vector<std::string> parts = dist::gather_bytes(host_, mine.bytes(), 0);
  if (host_.rank() != 0) return {};
  DiscriminatorResult out;
  out.scores.assign(responses, std::nan(""));
  for (const std::string& part : parts) {
    dist::ByteReader in(part);
    const std::vector<int64_t> positions = in.get_vector<int64_t>();
    const std::vector<double> values = in.get_vector<double>();
    RIL_CHECK(positions.size() == values.size(), "discriminator scores: ", positions.size(), " positions, ",
              values.size(), " scores");
    for (size_t k = 0; k < positions.size(); ++k) out.scores.at(static_cast<size_t>(positions[k])) = values[k];
  }
  auto ratio = [](double a, double b) { return b > 0 ? a / b : std::nan(""); };
  out.stats.loss = sums.loss / static_cast<double>(responses);
  out.stats.accuracy = ratio(sums.student_correct + sums.teacher_correct, sums.students + sums.teachers);
  out.stats.student_accuracy = ratio(sums.student_correct, sums.students);
  out.stats.teacher_accuracy = ratio(sums.teacher_correct, sums.teachers);
  out.stats.student_prob = ratio(sums.student_prob, sums.students);
  out.stats.teacher_prob = ratio(sums.teacher_prob, sums.teachers);
  out.skipped_updates = skipped_updates_;
  return out;
}

// ---- state -------------------------------------------------------------------------------------

GroupOptimizer DiscriminatorTrainer::group_optimizer() {
  return {optimizer_.get(), sharded_.get(), &params_, named_parameters(*disc_)};
}

void DiscriminatorTrainer::save_state(io::H5File& file, const std::vector<int>& disc_world_ranks) {
  with_state_back(
      offload_.get(),
      [&] {
        io::save_tensors(file, names::kDiscriminator, named_parameters(*disc_));
        save_optimizer_state(file, kDiscOptimizerNames, group_optimizer(), disc_world_ranks);
      },
      [this] { go_idle(); });
}

void DiscriminatorTrainer::save_shard(io::H5File& part) {
  with_state_back(
      offload_.get(), [&] { save_optimizer_shard(part, kDiscOptimizerNames, group_optimizer()); },
      [this] { go_idle(); });
}

void DiscriminatorTrainer::load_state(const io::H5File& file, const std::function<std::string(int)>& part_path) {
  torch::NoGradGuard no_grad;
  if (offload_) offload_->bring_back();  // a fresh job has nothing away; the next step puts it away
  io::load_tensors_into(file, names::kDiscriminator, named_parameters(*disc_));
  load_optimizer_state(file, kDiscOptimizerNames, group_optimizer(), part_path);
}

void DiscriminatorTrainer::save_model(const std::string& dir) {
  if (offload_) offload_->bring_back();  // the end of the run: D stays resident
  model::save_discriminator(disc_, dir);
  store_discriminator_system(dir, prompt_.system());
}

}  // namespace ril::roles
