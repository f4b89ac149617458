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

// im2col with the batch in the columns: x (N, C, H, W) -> (C * kh * kw, N * L), image n's
// patches in columns [n L, (n + 1) L). This is the operand conv2d multiplies the
// (C_out, C * kh * kw) weight by, in one GEMM for the whole batch, with no transposing
// copy of the columns between (Note [Column layouts] in ops/kernels/im2col.h).
Tensor im2col_batch(const Tensor& x, const IntList& kernel, const IntList& dilation, const IntList& padding,
                    const IntList& stride);
// Its reverse and backward: cols (C * kh * kw, N * L) -> (N, C, H, W), output_size = (H, W),
// overlapping patches summed; N comes from cols' width.
Tensor col2im_batch(const Tensor& cols, const IntList& output_size, const IntList& kernel, const IntList& dilation,
                    const IntList& padding, const IntList& stride);

}  // namespace kiln
