// The kernel contract of the fused normalisation ops (ops/norm.cpp defines the stubs and
// calls them; every device's kernels, ops/cpu/norm.cpp and cuda/, register against them).
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// x, y: (rows, cols) contiguous; weight, bias: (cols) or undefined; mean, rstd: (rows)
// of x's dtype, written with each row's mean and 1 / sqrt(biased var + eps).
using LayerNormKernel = void(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                             const Tensor& weight, const Tensor& bias, double eps);
KILN_DECLARE_STUB(layer_norm_stub, LayerNormKernel);
// dy, x: (rows, cols) contiguous; mean, rstd: (rows) from the forward; weight (cols) or
// undefined. Writes dx (rows, cols) and, when defined, dweight and dbias (cols).
using LayerNormBackwardKernel = void(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                                     const Tensor& x, const Tensor& mean, const Tensor& rstd, const Tensor& weight);
KILN_DECLARE_STUB(layer_norm_backward_stub, LayerNormBackwardKernel);

// x: (N, C, S) contiguous (S = the product of the spatial dims, 1 for a 2-D input).
// Writes mean and var, (C) of x's dtype: each channel's mean and biased variance over
// its N * S values.
using BatchNormStatsKernel = void(const Tensor& mean, const Tensor& var, const Tensor& x);
KILN_DECLARE_STUB(batch_norm_stats_stub, BatchNormStatsKernel);

// x, y: (N, C, S) contiguous; mean, invstd: (C); weight, bias: (C) or undefined.
// y = (x - mean) * invstd * weight + bias per channel.
using BatchNormKernel = void(const Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                             const Tensor& weight, const Tensor& bias);
KILN_DECLARE_STUB(batch_norm_stub, BatchNormKernel);

// dy, x: (N, C, S) contiguous; mean, invstd: (C) as the forward used them; weight (C) or
// undefined. training: mean and invstd are the batch's statistics (functions of x), so
// dx carries their terms; otherwise they are constants (running statistics). Writes
// whichever of dx (N, C, S), dweight and dbias (C) are defined.
using BatchNormBackwardKernel = void(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                                     const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                                     bool training);
KILN_DECLARE_STUB(batch_norm_backward_stub, BatchNormBackwardKernel);

}  // namespace kiln
