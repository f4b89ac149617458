// The kernel contract of im2col / col2im: each kernel's signature, the shapes and layouts
// it receives, and its DispatchStub. ops/im2col.cpp defines the stubs and calls them;
// every device's kernels (ops/cpu/im2col.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// x: (N, C, H, W) contiguous -> cols: (N, C * kh * kw, out_h * out_w).
KILN_DECLARE_STUB(im2col_stub, void(const Tensor& cols, const Tensor& x, const IntList& kernel, const IntList& dilation,
                      const IntList& padding, const IntList& stride));
// cols: (N, C * kh * kw, out_h * out_w) contiguous -> x: (N, C, H, W), zero on entry.
KILN_DECLARE_STUB(col2im_stub, void(const Tensor& x, const Tensor& cols, const IntList& kernel, const IntList& dilation,
                      const IntList& padding, const IntList& stride));

}  // namespace kiln
