// Mixed-precision helpers on gradient tensors: the fused unscale-and-check that
// nn::optim::GradScaler (nn/optim/grad_scaler.h) runs on every gradient.
#pragma once

#include "core/tensor.h"

namespace kiln {

// PyTorch's torch._amp_foreach_non_finite_check_and_unscale_ for one tensor, in one
// pass: grad *= inv_scale in place, and found_inf is set to 1 when any element of grad
// was inf or NaN before the multiply (it is never reset to 0, so one found_inf collects
// a whole set of gradients). The product is computed in float32 for 16-bit grads (float64
// for float64) and rounded once; non-finite elements stay non-finite.
//   grad:      float32, float64, float16 or bfloat16, any shape and strides (no autograd)
//   found_inf: float32 with one element, on grad's device
//   inv_scale: usually 1 / scale with scale a power of two, so the multiply is exact
void amp_non_finite_check_and_unscale_(const Tensor& grad, const Tensor& found_inf, double inv_scale);

}  // namespace kiln
