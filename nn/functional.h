// nn::functional: the stateless forms of the layers (torch.nn.functional). Layers in
// nn/layers.h hold parameters and call these.
#pragma once

#include "core/generator.h"
#include "core/tensor.h"
#include "ops/index.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace kiln::nn::functional {

// The activations and lookups are kiln ops already; these names let a port of
// torch.nn.functional code read F::relu(x), F::softmax(x, 1), F::embedding(w, i) ...
using kiln::elu;
using kiln::embedding;
using kiln::gelu;
using kiln::leaky_relu;
using kiln::log_softmax;
using kiln::one_hot;
using kiln::pad;
using kiln::relu;
using kiln::sigmoid;
using kiln::silu;
using kiln::softmax;
using kiln::softplus;
using kiln::tanh;

// x: (..., in), weight: (out, in), bias: (out) or undefined -> (..., out) = x W^T + b.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
// In training, zeroes each element with probability p and scales the rest by 1/(1-p);
// the identity otherwise (or when p == 0).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

}  // namespace kiln::nn::functional
