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
  const model::TeacherForcedInput input = policy.m.teacher_forced_input(
      batch.prompt_ids, batch.prompt_mask, batch.images, batch.response_ids, batch.response_mask);
  return model::sequence_logprobs(policy.m.language_model(), input, entropy);
}

SftBatchOptions rl_batch_options(const model::ModelConfig& config, int64_t image_height, int64_t image_width,
                                 int64_t budget) {
  SftBatchOptions o = model_batch_options(config, image_height, image_width);
  o.max_response_tokens = budget + 1;
  return o;
}

SftBatchOptions rl_batch_options(const PolicyModel& policy, const data::Dataset& dataset, int64_t budget) {
  return rl_batch_options(policy.m.config, dataset.image_height(), dataset.image_width(), budget);
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

void save_policy(PolicyModel& policy, const std::string& dir) { policy.m.save(dir); }

}  // namespace ril::roles
