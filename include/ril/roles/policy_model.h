// The policy a learner trains (SFT student, RIL student, its frozen reference): a LLaVA or a
// text-only Qwen2 model, with the few operations the training jobs share.
#pragma once

#include <string>

#include <torch/torch.h>

#include "ril/io/module_state.h"
#include "ril/model/checkpoint.h"
#include "ril/roles/sft_batch.h"

namespace ril::roles {

struct PolicyModel {
  model::PretrainedModel m;
  bool llava() const { return m.config.kind == model::ModelKind::kLlava; }
  torch::nn::Module& module() {
    return llava() ? static_cast<torch::nn::Module&>(*m.llava) : static_cast<torch::nn::Module&>(*m.lm);
  }
};

// Every parameter with its (HF) name, in registration order.
io::NamedTensors named_parameters(torch::nn::Module& module);

// log pi(response | prompt[, image]) [B, R] in one teacher-forced forward, 0 at response pads;
// `entropy` as in model::sequence_logprobs.
torch::Tensor response_logprobs(PolicyModel& policy, const SftBatch& batch, torch::Tensor* entropy = nullptr);

// The batch layout of RL responses for this policy: its image placeholders (LLaVA), responses of
// up to `budget` tokens plus the stop token. Rollout and learner build their batches alike.
SftBatchOptions rl_batch_options(const PolicyModel& policy, int64_t budget);

// The update of a data-parallel role once its gradients are summed over the group: when the
// group's loss and every gradient are finite, clip the gradient norm (max_grad_norm > 0) and
// step; otherwise clear the gradients and return false (the caller counts and reports it).
bool step_if_finite(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params, double loss,
                    double max_grad_norm);

// save_pretrained of whichever model it is.
void save_policy(PolicyModel& policy, const std::string& dir);

}  // namespace ril::roles
