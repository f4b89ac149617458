// CPU kernels of im2col / col2im (ops/im2col.cpp): one (n, c) image plane per task,
// split across threads with parallel_for. col2im sums overlapping patches, which
// stay inside one plane, so planes never race. Either column layout of
// Note [Column layouts] (ops/kernels/im2col.h): a row's place comes from cols' strides.
#include <algorithm>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/im2col.h"

namespace kiln {

namespace {

// The output columns [lo, hi) whose pixel ox * stride + offset lies inside [0, size).
struct Range {
  int64_t lo, hi;
};
Range inside(int64_t offset, int64_t stride, int64_t size, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  hi = std::min(hi, out);
  return {std::min(lo, hi), hi};
}

// Where image plane `plane` = (n, c) keeps its kh * kw column rows: the first row and
// the distance between rows, in elements.
struct PlaneRows {
  int64_t first, step;
};
PlaneRows plane_rows(const Tensor& cols, const Im2colGeometry& g, int64_t plane) {
  const int64_t n = plane / g.channels, c = plane % g.channels;
  return {n * cols.stride(0) + c * g.kh * g.kw * cols.stride(1), cols.stride(1)};
}

// x: (N, C, H, W) -> cols: (N, C * kh * kw, out_h * out_w).
void im2col_forward_cpu(const Tensor& cols, const Tensor& x, const IntList& kernel, const IntList& dilation,
                        const IntList& padding, const IntList& stride) {
  Im2colGeometry g = im2col_geometry(x.shape(), kernel, dilation, padding, stride);
  int64_t plane_cols = g.kh * g.kw * g.out_h * g.out_w;
  dispatch_floating(x.dtype(), "im2col", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* cp = cols.data_ptr<T>();
    int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(plane_cols, 1));
    cpu::parallel_for(0, g.planes, grain, [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        const T* img = xp + plane * g.h * g.w;
        const PlaneRows rows = plane_rows(cols, g, plane);
        for (int64_t i = 0; i < g.kh; ++i) {
          for (int64_t j = 0; j < g.kw; ++j) {
            T* row = cp + rows.first + (i * g.kw + j) * rows.step;
            int64_t off_w = j * g.dw - g.pw;
            Range r = inside(off_w, g.sw, g.w, g.out_w);
            for (int64_t oy = 0; oy < g.out_h; ++oy) {
              T* dst = row + oy * g.out_w;
              int64_t iy = oy * g.sh - g.ph + i * g.dh;
              if (iy < 0 || iy >= g.h) {
                std::fill_n(dst, g.out_w, T(0));
                continue;
              }
              const T* line = img + iy * g.w;
              std::fill(dst, dst + r.lo, T(0));
              for (int64_t ox = r.lo; ox < r.hi; ++ox) dst[ox] = line[ox * g.sw + off_w];
              std::fill(dst + r.hi, dst + g.out_w, T(0));
            }
          }
        }
      }
    });
  });
}

// cols: (N, C * kh * kw, out_h * out_w) -> x: (N, C, H, W), zero on entry; every column
// entry is added to the pixel it was read from, so overlapping patches sum.
void col2im_forward_cpu(const Tensor& x, const Tensor& cols, const IntList& kernel, const IntList& dilation,
                        const IntList& padding, const IntList& stride) {
  Im2colGeometry g = im2col_geometry(x.shape(), kernel, dilation, padding, stride);
  int64_t plane_cols = g.kh * g.kw * g.out_h * g.out_w;
  dispatch_floating(x.dtype(), "col2im", [&]<typename T>() {
    T* xp = x.data_ptr<T>();
    const T* cp = cols.data_ptr<T>();
    int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(plane_cols, 1));
    cpu::parallel_for(0, g.planes, grain, [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        T* img = xp + plane * g.h * g.w;
        const PlaneRows rows = plane_rows(cols, g, plane);
        for (int64_t i = 0; i < g.kh; ++i) {
          for (int64_t j = 0; j < g.kw; ++j) {
            const T* row = cp + rows.first + (i * g.kw + j) * rows.step;
            int64_t off_w = j * g.dw - g.pw;
            Range r = inside(off_w, g.sw, g.w, g.out_w);
            for (int64_t oy = 0; oy < g.out_h; ++oy) {
              int64_t iy = oy * g.sh - g.ph + i * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              const T* src = row + oy * g.out_w;
              T* line = img + iy * g.w;
              for (int64_t ox = r.lo; ox < r.hi; ++ox) line[ox * g.sw + off_w] += src[ox];
            }
          }
        }
      }
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(im2col_stub, DeviceType::CPU, im2col_forward_cpu);
KILN_REGISTER_KERNEL(col2im_stub, DeviceType::CPU, col2im_forward_cpu);

}  // namespace kiln
