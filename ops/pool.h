// Max pooling as one op with indices (torch.nn.functional.max_pool2d_with_indices): one
// pass over the input forward and one scatter backward, where the composite of im2col,
// max over the window and its one-hot gradient made five. nn/conv.h's max_pool2d and
// max_pool1d are built on it. Kernels: ops/cpu/pool.cpp and cuda/pool.cu.
#pragma once

#include "core/tensor.h"
#include "ops/reduce.h"

namespace kiln {

// x: (N, C, H, W), floating (16-bit floats included). kernel, stride, padding and
// dilation are (h, w) pairs; stride defaults to kernel when empty; padding is at most
// half the kernel, as PyTorch requires. out = (H + 2 ph - dh (kh - 1) - 1) / sh + 1
// (likewise the width) must be positive. Returns the (N, C, out_h, out_w) maxima and
// their int64 indices into each input plane (iy * W + ix), which is what max_unpool and
// PyTorch's return_indices=True give. Padding never wins a window; NaN propagates.
// Differentiable in x: the gradient of each window goes to the pixel at its index, and
// pixels that win several windows sum them. The backward is itself differentiable
// (a scatter_add), so higher-order gradients work.
ValuesIndices max_pool2d_with_indices(const Tensor& x, const IntList& kernel, IntList stride = {},
                                      const IntList& padding = {0, 0}, const IntList& dilation = {1, 1});

}  // namespace kiln
