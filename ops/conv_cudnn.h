// 2-D convolution through NVIDIA cuDNN, for CUDA tensors: the path nn::functional::conv2d
// takes on a GPU (Note [conv2d algorithm] in nn/conv.cpp). The op and its gradients are in
// ops/conv_cudnn.cpp, the cuDNN calls in cuda/conv_cudnn.cpp (Note [cuDNN convolution]).
#pragma once

#include "core/tensor.h"

namespace kiln {

// y = conv2d(x, weight) with no bias (add it after), as nn::functional::conv2d computes it:
// x: (N, C_in, H, W), weight: (C_out, C_in / groups, kh, kw), both float32 or float64 on
// the same CUDA device; stride, padding, dilation: (h, w) pairs (>= 1, >= 0, >= 1);
// groups divides C_in and C_out. y: (N, C_out, oh, ow), oh = (H + 2 ph - dh (kh - 1) - 1)
// / sh + 1 (likewise ow), which must be at least 1; N, C_in or C_out may be 0. float32
// uses cuDNN's FMA math (no TF32), so results match the CPU's im2col + GEMM within float32
// rounding of the sums. Differentiable to any order: a backward without grad mode runs
// cuDNN's backward data and backward filter; with grad mode on (create_graph) it builds
// the gradients from differentiable kiln ops (conv_transpose2d, im2col and matmul).
// Errors name the op and the offending tensors; without cuDNN (a build without CUDA or
// cuDNN, or no device) it is an error saying so.
Tensor conv2d_cudnn(const Tensor& x, const Tensor& weight, const IntList& stride, const IntList& padding,
                    const IntList& dilation, int64_t groups);

// Whether conv2d_cudnn can run: kiln was built with CUDA and cuDNN, and a CUDA device is
// present. False (never an error) otherwise.
bool cudnn_is_available();

}  // namespace kiln
