// The kernel contract of the fused recurrent-cell ops (ops/rnn.cpp defines the stubs and
// calls them; every device's kernels, ops/cpu/rnn.cpp and cuda/, register against them).
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// gates: (N, 4H) contiguous, c: (N, H) contiguous -> h, c_new, tanh_c: (N, H) and
// act: (N, 4H) (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)), all contiguous.
using LstmPointwiseKernel = void(const Tensor& h, const Tensor& c_new, const Tensor& act, const Tensor& tanh_c,
                                 const Tensor& gates, const Tensor& c);
KILN_DECLARE_STUB(lstm_pointwise_stub, LstmPointwiseKernel);
// dgates: (N, 4H), dc_prev: (N, H), written entirely; dh, dc: (N, H) or undefined (zero);
// act, tanh_c, c: as saved by the forward kernel. All contiguous.
using LstmPointwiseBackwardKernel = void(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh,
                                         const Tensor& dc, const Tensor& act, const Tensor& tanh_c, const Tensor& c);
KILN_DECLARE_STUB(lstm_pointwise_backward_stub, LstmPointwiseBackwardKernel);

}  // namespace kiln
