// The kernel contract of the CTC loss (forward alpha and backward beta recursions): each
// kernel's signature, the shapes and layouts it receives, and its DispatchStub.
// ops/ctc.cpp defines the stubs and calls them; every device's kernels (ops/cpu/ctc.cpp,
// cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// log_probs: (T, N, C) contiguous; targets: int64 (sum(target_lengths)), every sample's
// labels concatenated, sample b's starting at target_offsets[b].
// nll: (N) of log_probs' dtype; log_alpha: (N, T, 2 * max(target_lengths) + 1) float64.
using CtcForwardKernel = void(const Tensor& nll, const Tensor& log_alpha, const Tensor& log_probs,
                              const Tensor& targets, const IntList& target_offsets, const IntList& input_lengths,
                              const IntList& target_lengths, int64_t blank);
// dlog_probs: (T, N, C) contiguous, written entirely; dnll, nll: (N); the rest as above.
using CtcBackwardKernel = void(const Tensor& dlog_probs, const Tensor& dnll, const Tensor& log_probs,
                               const Tensor& nll, const Tensor& log_alpha, const Tensor& targets,
                               const IntList& target_offsets, const IntList& input_lengths,
                               const IntList& target_lengths, int64_t blank, bool zero_infinity);
KILN_DECLARE_STUB(ctc_loss_forward_stub, CtcForwardKernel);
KILN_DECLARE_STUB(ctc_loss_backward_stub, CtcBackwardKernel);  // one op, two stubs

}  // namespace kiln
