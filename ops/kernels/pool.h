// The kernel contract of max pooling (ops/pool.h): each kernel's signature, the layouts
// it receives, and its DispatchStub. ops/pool.cpp defines the stubs and calls them;
// ops/cpu/pool.cpp and cuda/pool.cu register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/kernels/im2col.h"

namespace kiln {

// A pooling window is an im2col patch: Im2colGeometry (ops/kernels/im2col.h) describes
// both. Window (oy, ox) of a plane covers the pixels
//   (oy * sh - ph + i * dh, ox * sw - pw + j * dw),  i < kh, j < kw,
// of which only those inside the H x W plane take part (padding never wins).

// x: (planes, H, W) contiguous; y, indices: (planes, out_h, out_w) contiguous, indices
// int64. Writes each window's maximum and the flat index iy * W + ix of the pixel it
// came from: the first maximum, or the last NaN (NaN propagates), as PyTorch's CPU
// kernel. A window with no pixel inside the plane gets -inf and index -1.
using MaxPool2dKernel = void(const Tensor& y, const Tensor& indices, const Tensor& x, const Im2colGeometry& g);
KILN_DECLARE_STUB(max_pool2d_stub, MaxPool2dKernel);

// dy, indices: (planes, out_h, out_w) contiguous; dx: (planes, H, W) contiguous, zero on
// entry. dx[plane, indices[e]] += dy[e] for every window e with an index >= 0; a pixel
// that wins several overlapping windows sums their gradients in window order.
using MaxPool2dBackwardKernel = void(const Tensor& dx, const Tensor& dy, const Tensor& indices,
                                     const Im2colGeometry& g);
KILN_DECLARE_STUB(max_pool2d_backward_stub, MaxPool2dBackwardKernel);

}  // namespace kiln
