// Activation checkpointing (--checkpoint-activations): LibTorch C++ has no
// torch.utils.checkpoint, so this is its reentrant form as a custom autograd Function.
//   forward   y = fn(x) runs under NoGradGuard: none of fn's intermediate activations are kept,
//             only x (saved for backward) and y;
//   backward  recomputes y' = fn(x') with grad on x' = x.detach().requires_grad_(), runs a
//             nested backward of y' with the incoming gradient (the parameters fn uses get their
//             gradients accumulated there, as with use_reentrant=True in PyTorch) and returns
//             x'.grad as the gradient of x.
// Peak memory: a decoder layer's activations (q/k/v, attention probabilities, the MLP's
// [B, T, intermediate] tensors, ...) exist for one layer at a time during backward instead of for
// every layer between forward and backward; the price is one extra forward of each layer.
// Preconditions, checked or stated:
//   - fn is deterministic: the recomputation must see the same values. ril's decoder layers draw
//     no random numbers (no dropout; SDPA runs with dropout_p = 0), so no RNG state is saved;
//   - fn reads its other inputs (RoPE cos/sin, the mask) from tensors that need no gradient and
//     are not modified in place before backward (they are captured, not saved as inputs);
//   - when grad mode is off or x needs no gradient, fn(x) is returned as it is (no gradient
//     could reach fn's parameters through this node: the Function is only called for x that
//     requires grad, as the decoder's hidden states always do in training).
// Gradients equal the plain path's: the same kernels on the same values in the same order per
// layer; only the accumulation into a parameter used outside the layers (tied embeddings) may
// happen in another order (tests/unit/model/test_activation_checkpoint.cpp states the tolerance).
// Which ranks call: any (learner, discriminator and sft ranks in training).
#pragma once

#include <functional>

#include <torch/torch.h>

namespace ril::model {

using LayerFunction = std::function<torch::Tensor(const torch::Tensor&)>;

// fn(x) with activation checkpointing (see above); x [..] any shape, fn's output any shape.
torch::Tensor checkpointed(const LayerFunction& fn, const torch::Tensor& x);

}  // namespace ril::model
