// The kernel contract of the Winograd convolution (ops/conv.h): its signature, the shapes
// it receives, and its DispatchStub. ops/conv.cpp defines the stub and calls it; the CPU
// kernel is ops/cpu/winograd.cpp. There is no CUDA kernel: CUDA tensors never select it.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// y: (N, C_out, OH, OW), x: (N, C_in, H, W), weight: (C_out, C_in, 3, 3), all contiguous
// and of one floating dtype; stride 1, dilation 1, zero padding (pad_h, pad_w), so
// OH = H + 2 pad_h - 2 >= 1 and OW = W + 2 pad_w - 2 >= 1. y is written entirely.
using Conv2dWinogradKernel = void(const Tensor& y, const Tensor& x, const Tensor& weight, int64_t pad_h,
                                  int64_t pad_w);
KILN_DECLARE_STUB(conv2d_winograd_stub, Conv2dWinogradKernel);

}  // namespace kiln
