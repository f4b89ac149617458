// The kernel contract of softmax and log_softmax: each kernel's signature, the shapes and
// layouts it receives, and its DispatchStub. ops/softmax.cpp defines the stubs and calls
// them; every device's kernels (ops/cpu/softmax.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// x, out: (outer, dim_size, inner) contiguous; normalises over dim 1.
using SoftmaxKernel = void(const Tensor& out, const Tensor& x);
KILN_DECLARE_STUB(softmax_stub, SoftmaxKernel);
KILN_DECLARE_STUB(log_softmax_stub, SoftmaxKernel);

// dx, dy, y: (outer, dim_size, inner) contiguous, y the forward's output; over dim 1
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)
using SoftmaxBackwardKernel = void(const Tensor& dx, const Tensor& dy, const Tensor& y);
KILN_DECLARE_STUB(softmax_backward_stub, SoftmaxBackwardKernel);
KILN_DECLARE_STUB(log_softmax_backward_stub, SoftmaxBackwardKernel);

}  // namespace kiln
