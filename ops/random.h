// Ops that draw random numbers inside their kernel, from the Philox streams of
// Note [Philox streams] (core/generator.h), so every device draws the same numbers.
#pragma once

#include "core/generator.h"
#include "core/tensor.h"

namespace kiln {

// Training-mode dropout in one pass: element i is kept when the i-th value of rand's
// stream for x's dtype (float32: 4 per Philox block, float64: 2) is below 1 - p, and
// kept elements are scaled by 1 / (1 - p). The same generator state gives the mask that
// lt(rand(x.shape(), x.dtype()), 1 - p) would. p in [0, 1); floating x.
Tensor fused_dropout(const Tensor& x, double p, Generator* gen = nullptr);

}  // namespace kiln
