#include "ril/roles/policy_model.h"

#include <cmath>

#include "ril/dist/gradient_sync.h"
#include "ril/model/generator.h"

namespace ril::roles {

io::NamedTensors named_parameters(torch::nn::Module& module) {
  io::NamedTensors out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

torch::Tensor response_logprobs(PolicyModel& policy, const SftBatch& batch, torch::Tensor* entropy) {
  model::TeacherForcedInput input;
  input.prompt_ids = batch.prompt_ids;
  input.prompt_mask = batch.prompt_mask;
  input.response_ids = batch.response_ids;
  input.response_mask = batch.response_mask;
  if (policy.llava()) input.prompt_embeds = policy.m.llava->inputs_embeds(batch.prompt_ids, batch.pixel_values);
  return model::sequence_logprobs(policy.m.language_model(), input, entropy);
}

SftBatchOptions rl_batch_options(const PolicyModel& policy, int64_t budget) {
  SftBatchOptions o;
  o.with_image = policy.llava();
  o.image_token_id = policy.llava() ? policy.m.config.llava.image_token_index : -1;
  o.image_tokens = policy.llava() ? policy.m.config.llava.num_image_tokens() : 0;
  o.max_response_tokens = budget + 1;
  return o;
}

bool step_if_finite(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params, double loss,
                    double max_grad_norm) {
  if (!std::isfinite(loss) || !dist::gradients_finite(params)) {
    optimizer.zero_grad();
    return false;
  }
  if (max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, max_grad_norm);
  optimizer.step();
  return true;
}

void save_policy(PolicyModel& policy, const std::string& dir) {
  if (policy.llava()) {
    model::save_pretrained(policy.m.llava, dir);
  } else {
    model::save_pretrained(policy.m.lm, dir);
  }
}

}  // namespace ril::roles
