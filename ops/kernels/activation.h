// The kernel contract of the fused activation gradients (ops/activation.h): signature
// and DispatchStub. ops/activation.cpp defines the stub and calls it; ops/cpu/activation.cpp
// and cuda/activation.cu register against it.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// out[i] = x[i] > threshold ? grad[i] : 0; out, grad and x have one shape and dtype.
KILN_DECLARE_STUB(threshold_backward_stub,
                  void(const Tensor& out, const Tensor& grad, const Tensor& x, double threshold));

}  // namespace kiln
