#include "ril/roles/rollout_worker.h"

#include <algorithm>

#include "ril/common/seed.h"
#include "ril/dist/sharding.h"
#include "ril/model/sampler.h"

namespace ril::roles {
namespace {

model::GenerationOptions generation_options(const text::BpeTokenizer& tokenizer, const RolloutOptions& o) {
  model::GenerationOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.sampling.do_sample = true;
  g.sampling.temperature = o.temperature;
  g.sampling.top_p = o.top_p;
  g.sampling.top_k = o.top_k;
  g.sampling.repetition_penalty = o.repetition_penalty;
  g.sampling.validate();
  const auto& special = tokenizer.special_ids();
  if (special.im_end) g.stop_token_ids.push_back(*special.im_end);
  if (special.eos && special.eos != special.im_end) g.stop_token_ids.push_back(*special.eos);
  g.pad_token_id = special.pad ? *special.pad : 0;
  return g;
}

}  // namespace

RolloutWorker::RolloutWorker(std::shared_ptr<PolicyModel> student, const text::BpeTokenizer& tokenizer,
                             const data::Dataset& dataset, const RolloutOptions& options)
    : student_(std::move(student)),
      tokenizer_(tokenizer),
      dataset_(dataset),
      options_(options),
      generation_(generation_options(tokenizer, options)),
      builder_(tokenizer, rl_batch_options(*student_, dataset, options.max_new_tokens)) {}

Responses RolloutWorker::sample(int64_t step, const std::vector<int64_t>& questions, const dist::Communicator& group,
                                int64_t version) {
  Responses out;
  torch::NoGradGuard no_grad;
  student_->module().eval();
  for (size_t j = 0; j < questions.size(); ++j) {
    if (!dist::owns(static_cast<int64_t>(j), group)) continue;
    Responses mine = sample_question(step, questions[j], version);
    out.insert(out.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
  }
  return out;
}

Responses RolloutWorker::sample_question(int64_t step, int64_t question, int64_t version) {
  const std::vector<int64_t> rows(static_cast<size_t>(options_.group), question);
  const SftBatch b = builder_.build_with_responses(dataset_, rows, std::vector<std::vector<int64_t>>(rows.size()));
  const model::GenerationResult r =
      student_->m.generate(b.prompt_ids, b.prompt_mask, b.images, generation_,
                           model::make_cpu_generator(step_question_seed(options_.seed, step, question, kRolloutStream)));
  const std::vector<int64_t>& stops = generation_.stop_token_ids;
  Responses out;
  for (int64_t i = 0; i < options_.group; ++i) {
    Response resp;
    resp.question = question;
    resp.sample = static_cast<int32_t>(i);
    resp.version = version;
    const int64_t n = r.lengths[i].item<int64_t>();
    const torch::Tensor logprobs = r.logprobs[i].to(torch::kFloat32).contiguous();
    resp.logprobs.assign(logprobs.data_ptr<float>(), logprobs.data_ptr<float>() + n);
    std::vector<int32_t> text_ids;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t id = r.tokens[i][k].item<int64_t>();
      resp.ids.push_back(id);
      if (std::find(stops.begin(), stops.end(), id) != stops.end()) {
        resp.finished = true;
      } else if (id < tokenizer_.vocab_size()) {
        text_ids.push_back(static_cast<int32_t>(id));
      }
    }
    resp.text = tokenizer_.decode(text_ids, /*skip_special=*/true);
    out.push_back(std::move(resp));
  }
  return out;
}

}  // namespace ril::roles
