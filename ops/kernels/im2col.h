// The kernel contract of im2col / col2im: each kernel's signature, the shapes and layouts
// it receives, and its DispatchStub. ops/im2col.cpp defines the stubs and calls them;
// every device's kernels (ops/cpu/im2col.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/host_device.h"
#include "core/tensor.h"

namespace kiln {

// The geometry both directions and every device share. Column row (c, i, j) (i < kh,
// j < kw) holds, at column oy * out_w + ox, the pixel
//   x[n, c, oy * sh - ph + i * dh, ox * sw - pw + j * dw]   (0 outside the image);
// planes = N * C.
struct Im2colGeometry {
  int64_t planes, channels, h, w, kh, kw, dh, dw, ph, pw, sh, sw, out_h, out_w;
};

// The steps t in [lo, hi) of [0, count) whose position offset + t * step lies inside
// [0, size): the output columns of one kernel tap that read pixels (step = stride), or
// the taps of one window that do (step = dilation). Empty ranges have lo == hi.
struct StepRange {
  int64_t lo, hi;
};
inline StepRange steps_inside(int64_t offset, int64_t step, int64_t size, int64_t count) {
  const int64_t lo = offset >= 0 ? 0 : (-offset + step - 1) / step;
  int64_t hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / step + 1;
  hi = hi < count ? hi : count;
  return {lo < hi ? lo : hi, hi};
}

// The reverse question, for the kernels that give each pixel a thread (CUDA col2im and
// max-pool backward): the output position o in [0, out) with o * stride == t, where t is
// the pixel's offset from a tap's first position, or -1 when there is none.
KILN_HOST_DEVICE inline int64_t position_of(int64_t t, int64_t stride, int64_t out) {
  if (t < 0 || t % stride != 0) return -1;
  const int64_t o = t / stride;
  return o < out ? o : -1;
}

// image: (N, C, H, W); k, d, p, s: kernel, dilation, padding, stride as (h, w) pairs.
inline Im2colGeometry im2col_geometry(const Shape& image, const IntList& k, const IntList& d, const IntList& p,
                                      const IntList& s) {
  Im2colGeometry g{image[0] * image[1], image[1], image[2], image[3], k[0], k[1], d[0], d[1], p[0], p[1], s[0], s[1],
                   0, 0};
  g.out_h = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.out_w = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  return g;
}

// Note [Column layouts]
// The kernels see the columns as (N, C * kh * kw, L), L = out_h * out_w, with the last
// dim contiguous and dims 0 and 1 at any strides: the column row r of image n starts at
// n * cols.stride(0) + r * cols.stride(1). ops/im2col.cpp passes one of two layouts:
// - per image, contiguous (N, C kh kw, L): im2col / col2im, as torch's unfold / fold;
// - batch in columns, memory (C kh kw, N, L): im2col_batch / col2im_batch, the whole
//   batch as one (C kh kw, N L) GEMM operand, which is what conv2d multiplies.

// x: (N, C, H, W) contiguous -> cols: (N, C * kh * kw, out_h * out_w) (Note [Column layouts]).
KILN_DECLARE_STUB(im2col_stub, void(const Tensor& cols, const Tensor& x, const IntList& kernel, const IntList& dilation,
                      const IntList& padding, const IntList& stride));
// cols: (N, C * kh * kw, out_h * out_w) (Note [Column layouts]) -> x: (N, C, H, W), zero on entry.
KILN_DECLARE_STUB(col2im_stub, void(const Tensor& x, const Tensor& cols, const IntList& kernel, const IntList& dilation,
                      const IntList& padding, const IntList& stride));

}  // namespace kiln
