// The kernel contract of class_nll_loss (ops/nll.h): each kernel's signature, the shapes
// and layouts it receives, and its DispatchStub. ops/nll.cpp defines the stubs and calls
// them; every device's kernels (ops/cpu/nll.cpp) register against them.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// logp: (N, C, S) contiguous float32/float64 (S: the product of the dims after C, 1
// without any); target: (N, S) contiguous int64; weight: (C) contiguous of logp's dtype,
// or undefined for all ones. Every target is in [0, C) or equals ignore_index (the op
// checks; a kernel checks again before it reads logp).
// losses: (N, S) of logp's dtype: losses[n, s] = -weight[t] * logp[n, t, s] with
// t = target[n, s], and 0 where t == ignore_index.
// totals: (2) float64 on the CPU: the sum of the losses and the sum of weight[t] over
// the targets not ignored ("mean" divides the first by the second).
using NllForwardKernel = void(const Tensor& losses, const Tensor& totals, const Tensor& logp, const Tensor& target,
                              const Tensor& weight, int64_t ignore_index);
KILN_DECLARE_STUB(nll_forward_stub, NllForwardKernel);

// dlogp: (N, C, S) contiguous, written whole: dlogp[n, t, s] = -weight[t] * grad[n, s] *
// scale at t = target[n, s], 0 elsewhere (and in every class of an ignored target).
// grad: (N, S) contiguous, or a single value (numel 1) for every (n, s).
using NllBackwardKernel = void(const Tensor& dlogp, const Tensor& grad, double scale, const Tensor& target,
                               const Tensor& weight, int64_t ignore_index);
KILN_DECLARE_STUB(nll_backward_stub, NllBackwardKernel);

}  // namespace kiln
