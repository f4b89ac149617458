// The negative log-likelihood of class-index targets as one op with its own kernels:
// nn::functional::nll_loss and cross_entropy (nn/loss.cpp) run through it whenever no
// gradient w.r.t. the class weights is wanted and the device has the kernels. Forward
// and backward in ops/nll.cpp, kernels in ops/cpu/nll.cpp.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace kiln {

enum class NllReduction { None, Sum, Mean };

// logp: (C) with target (), or (N, C, d1, ...) with target (N, d1, ...) int64 on the same
// device, each target in [0, C) or equal to ignore_index; weight: undefined (all ones)
// or (C) of logp's dtype, treated as a constant (no gradient flows to it).
// Per target, loss = -weight[t] logp[..., t, ...], 0 where t == ignore_index. None gives
// them in the target's shape; Sum their sum; Mean their sum divided by the sum of
// weight[t] over the targets not ignored (NaN when there are none), as PyTorch's nll_loss.
Tensor class_nll_loss(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                      NllReduction reduction);

// Whether class_nll_loss has kernels on this device (nn/loss.cpp composes the loss from
// other ops where it does not).
bool class_nll_loss_available(const Device& device);

}  // namespace kiln
