// Elementwise functions of one tensor: math (exp, log, ...) and activations
// (relu, gelu, ...). Each is one lambda in ops/cpu/unary.cpp; forward and backward
// are in ops/unary.cpp.
#pragma once

#include <string>

#include "core/tensor.h"

namespace kiln {

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);   // zero gradient
Tensor sin(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor square(const Tensor& x);
// Clamps to [min, max]; pass -inf/+inf for one-sided. Gradient 1 inside, 0 outside.
Tensor clamp(const Tensor& x, double min, double max);
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
// approximate: "none" (exact, with erf) or "tanh", as in PyTorch.
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

// Not differentiable: bool results.
Tensor isfinite(const Tensor& x);
Tensor isnan(const Tensor& x);
Tensor logical_not(const Tensor& x);

}  // namespace kiln
