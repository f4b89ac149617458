// The kernel contract of the mixed-precision helpers (ops/amp.cpp defines the stub;
// ops/cpu/amp.cpp and cuda/amp.cu register against it).
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// grad: contiguous, numel > 0, float32/float64/float16/bfloat16, updated in place:
// grad[i] = grad[i] * inv_scale. found_inf: float32 (1,) on grad's device, set to 1.0f
// if any grad[i] (read before the multiply) is inf or NaN, else left as it was.
KILN_DECLARE_STUB(amp_unscale_stub, void(const Tensor& grad, const Tensor& found_inf, double inv_scale));

}  // namespace kiln
