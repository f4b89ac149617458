// The kernel contract of the Winograd convolution (ops/conv.h): its signature, the shapes
// it receives, and its DispatchStub. ops/conv.cpp defines the stub and calls it; the CPU
// kernel is ops/cpu/winograd.cpp. There is no CUDA kernel: CUDA tensors never select it.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// weight: (C_out, C_in, 3, 3), contiguous, floating -> its transformed filters U, in a
// layout private to the device's kernel, to pass to conv2d_winograd_stub (the backward
// reuses the forward's).
using Conv2dWinogradFilterKernel = Tensor(const Tensor& weight);
KILN_DECLARE_STUB(conv2d_winograd_filter_stub, Conv2dWinogradFilterKernel);
// y: (N, C_out, OH, OW), x: (N, C_in, H, W), both contiguous and of one floating dtype;
// u: conv2d_winograd_filter_stub of a weight (C_out, C_in, 3, 3); stride 1, dilation 1,
// zero padding (pad_h, pad_w), so OH = H + 2 pad_h - 2 >= 1 and OW = W + 2 pad_w - 2 >= 1.
// y is written entirely. With `transposed`, u is that of a weight (C_in, C_out, 3, 3) and
// the filter used is w'[o, c, a, b] = weight[c, o, 2 - a, 2 - b]: the input gradient of a
// convolution by weight, from the transformed filters its forward made.
using Conv2dWinogradKernel = void(const Tensor& y, const Tensor& x, const Tensor& u, int64_t pad_h, int64_t pad_w,
                                  bool transposed);
KILN_DECLARE_STUB(conv2d_winograd_stub, Conv2dWinogradKernel);
// dw: (C_out, C_in, 3, 3), x: (N, C_in, H, W), dy: (N, C_out, OH, OW), all contiguous and
// of one floating dtype, with the geometry of Conv2dWinogradKernel: dw = the weight
// gradient of y = conv(x, weight) given dy, by Winograd as well. dw is written entirely.
using Conv2dWinogradWeightKernel = void(const Tensor& dw, const Tensor& x, const Tensor& dy, int64_t pad_h,
                                        int64_t pad_w);
KILN_DECLARE_STUB(conv2d_winograd_weight_stub, Conv2dWinogradWeightKernel);

}  // namespace kiln
