// nn::functional: the stateless forms of the layers (torch.nn.functional). Layers in
// nn/layers.h hold parameters and call these.
#pragma once

#include "core/generator.h"
#include "core/tensor.h"

namespace kiln::nn::functional {

// x: (..., in), weight: (out, in), bias: (out) or undefined -> (..., out) = x W^T + b.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
// In training, zeroes each element with probability p and scales the rest by 1/(1-p);
// the identity otherwise (or when p == 0).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

}  // namespace kiln::nn::functional
