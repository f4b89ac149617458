// The Winograd convolution, an alternative to im2col + GEMM for 3x3 stride-1 kernels that
// nn::functional::conv2d selects by shape (Note [conv2d algorithm] in nn/conv.cpp), and
// the switch that forces one algorithm for tests and benchmarks. Kernel: ops/cpu/winograd.cpp.
#pragma once

#include "core/tensor.h"

namespace kiln {

// y = conv2d(x, weight, stride 1, dilation 1, groups 1, zero padding (pad_h, pad_w)) by
// Winograd F(2x2, 3x3) (Note [Winograd F(2x2, 3x3)] in ops/cpu/winograd.cpp).
// x: (N, C_in, H, W), weight: (C_out, C_in, 3, 3), both float32 or float64 on the CPU;
// padding: an (h, w) pair, each 0, 1 or 2; y: (N, C_out, H + 2 pad_h - 2, W + 2 pad_w - 2),
// whose height and width must be at least 1 (N, C_in or C_out may be 0). No bias (add it
// after). Differentiable to any order: the input's gradient is the same convolution of dy
// by the flipped, channel-transposed weight with padding 2 - p (from the forward's
// transformed filters), the weight's is im2col(x) times dy as one GEMM.
// float32 results differ from im2col + GEMM by a few ulps of the sum of |terms|.
Tensor conv2d_winograd(const Tensor& x, const Tensor& weight, const IntList& padding);

// Which algorithm nn::functional::conv2d uses: Auto follows the measured rule of
// Note [conv2d algorithm]; Im2col always uses im2col + GEMM; Winograd uses
// conv2d_winograd wherever it applies (3x3, stride 1, dilation 1, groups 1, padding <= 2,
// CPU) and im2col + GEMM elsewhere; on CUDA tensors every value but Im2col means cuDNN.
// The initial value comes from the environment variable KILN_CONV_ALGO (auto, im2col or
// winograd; unset means auto) read at first use.
enum class ConvAlgo { Auto, Im2col, Winograd };
ConvAlgo conv2d_algo();
void set_conv2d_algo(ConvAlgo algo);

}  // namespace kiln
