#include "ril/model/activation_checkpoint.h"

#include <torch/csrc/autograd/custom_function.h>

namespace ril::model {
namespace {

// The layer's function, kept by the autograd node until backward (a capsule in saved_data).
struct Recompute : torch::CustomClassHolder {
  explicit Recompute(LayerFunction f) : fn(std::move(f)) {}
  LayerFunction fn;
};

struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const c10::intrusive_ptr<Recompute>& recompute) {
    ctx->save_for_backward({x});
    ctx->saved_data["fn"] = c10::IValue::make_capsule(recompute);
    torch::NoGradGuard no_grad;  // (Function::forward runs without grad already; explicit here)
    return recompute->fn(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::Tensor x = ctx->get_saved_variables().at(0);
    const auto recompute = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["fn"].toCapsule());
    const torch::Tensor input = x.detach().requires_grad_(true);
    torch::Tensor y;
    {
      torch::AutoGradMode grad(true);
      y = recompute->fn(input);
    }
    torch::autograd::backward({y}, {grad_outputs.at(0)});
    return {input.grad(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpointed(const LayerFunction& fn, const torch::Tensor& x) {
  if (!torch::GradMode::is_enabled() || !x.requires_grad()) return fn(x);
  return CheckpointFunction::apply(x, c10::make_intrusive<Recompute>(fn));
}

}  // namespace ril::model
