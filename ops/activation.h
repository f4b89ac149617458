// Fused gradients of activations: one pass where the composition of a comparison and a
// where() costs two, plus a bool temporary. Kernels: ops/cpu/activation.cpp and
// cuda/activation.cu.
#pragma once

#include "core/tensor.h"

namespace kiln {

// grad where x > threshold, else 0 (PyTorch's threshold_backward): relu's gradient when
// x is relu's output and threshold is 0. grad and x: one shape, one floating dtype
// (16-bit floats included), one device. NaN in x gives 0. Differentiable: the gradient with
// respect to grad is the same mask applied again; with respect to x it is zero.
Tensor threshold_backward(const Tensor& grad, const Tensor& x, double threshold);

}  // namespace kiln
