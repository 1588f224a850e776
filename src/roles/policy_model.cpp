#include "ril/roles/policy_model.h"

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

void save_policy(PolicyModel& policy, const std::string& dir) {
  if (policy.llava()) {
    model::save_pretrained(policy.m.llava, dir);
  } else {
    model::save_pretrained(policy.m.lm, dir);
  }
}

}  // namespace ril::roles
