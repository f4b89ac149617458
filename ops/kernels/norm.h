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

}  // namespace kiln
