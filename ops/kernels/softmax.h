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

}  // namespace kiln
