// im2col / col2im (torch.nn.functional.unfold / fold): the patch extraction that turns
// convolution into GEMM. Each is the other's backward.
#pragma once

#include "core/tensor.h"

namespace kiln {

// x: (N, C, H, W) -> (N, C * kh * kw, L), L = out_h * out_w, with
// out_h = (H + 2 pad_h - dil_h (kh - 1) - 1) / stride_h + 1 (likewise out_w).
// kernel, dilation, padding, stride are (h, w) pairs.
Tensor im2col(const Tensor& x, const IntList& kernel, const IntList& dilation, const IntList& padding,
              const IntList& stride);
// cols: (N, C * kh * kw, L) -> (N, C, H, W) with output_size = (H, W); overlapping
// patches are summed.
Tensor col2im(const Tensor& cols, const IntList& output_size, const IntList& kernel, const IntList& dilation,
              const IntList& padding, const IntList& stride);

}  // namespace kiln
