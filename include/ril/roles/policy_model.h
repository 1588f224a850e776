// The policy a learner trains (SFT student, RIL student, its frozen reference): a model of any
// supported family (model::PretrainedModel: text-only Qwen2, LLaVA, Qwen2.5-VL, InternVL), with the
// few operations the training jobs share.
#pragma once

#include <string>

#include <torch/torch.h>

#include "ril/io/module_state.h"
#include "ril/model/checkpoint.h"
#include "ril/roles/sft_batch.h"

namespace ril::roles {

struct PolicyModel {
  model::PretrainedModel m;
  torch::nn::Module& module() { return m.module(); }
};

// Every parameter with its (HF) name, in registration order.
io::NamedTensors named_parameters(torch::nn::Module& module);

// log pi(response | prompt[, image]) [B, R] in one teacher-forced forward, 0 at response pads;
// `entropy` as in model::sequence_logprobs.
torch::Tensor response_logprobs(PolicyModel& policy, const SftBatch& batch, torch::Tensor* entropy = nullptr);

// The batch layout of RL responses for this policy on images of image_height x image_width (the
// dataset's): its image placeholders and preprocessing (model_batch_options), responses of up to
// `budget` tokens plus the stop token. Rollout and learner build their batches alike (and the
// input checks measure prompts with it, from the config alone, before a model is loaded).
SftBatchOptions rl_batch_options(const model::ModelConfig& config, int64_t image_height, int64_t image_width,
                                 int64_t budget);
SftBatchOptions rl_batch_options(const PolicyModel& policy, const data::Dataset& dataset, int64_t budget);

// The update of a data-parallel role once its gradients are summed over the group: when the
// group's loss and every gradient are finite, clip the gradient norm (max_grad_norm > 0) and
// step; otherwise clear the gradients and return false (the caller counts and reports it).
bool step_if_finite(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params, double loss,
                    double max_grad_norm);

// The model's HF directory (PretrainedModel::save: config.json and safetensors of its family).
void save_policy(PolicyModel& policy, const std::string& dir);

}  // namespace ril::roles
