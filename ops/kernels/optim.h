// The kernel contract of the fused optimizer updates (ops/optim.cpp defines the stubs
// and calls them; every device's kernels, ops/cpu/optim.cpp and cuda/, register against
// them).
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/optim.h"

namespace kiln {

// Every tensor contiguous, of one shape, dtype and device; max_exp_avg_sq undefined
// unless args.amsgrad. Updated in place.
using AdamStepKernel = void(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                            const Tensor& max_exp_avg_sq, const AdamStep& args);
KILN_DECLARE_STUB(adam_step_stub, AdamStepKernel);
// momentum_buffer undefined when args.momentum == 0.
using SgdStepKernel = void(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                           const SgdStep& args);
KILN_DECLARE_STUB(sgd_step_stub, SgdStepKernel);

}  // namespace kiln
