// CPU kernels of max pooling (ops/pool.h, contract in ops/kernels/pool.h). Threads take
// whole planes: the forward's windows and the backward's scatter never leave a plane, so
// the backward needs no atomics and sums a pixel's gradients in window order.
#include <algorithm>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/pool.h"

namespace kiln {

namespace {

// Planes per task so that a task has about kElementwiseGrain input pixels.
int64_t plane_grain(const Im2colGeometry& g) {
  return std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(1, g.h * g.w));
}

// One plane, a row of windows at a time. The loop runs tap by tap over the whole row of
// windows, so each window's running maximum is its own dependency chain and the chains
// of a row overlap: window by window, every tap would wait for the previous compare.
// Each window still sees its taps in (i, j) order, so the result is the same.
// cols[j] holds the windows [lo, hi) whose tap column j lies inside the plane (the same
// for every row and plane, so computed once per call); best and where are row scratch.
template <typename T>
void max_pool_plane(const T* x, T* y, int64_t* indices, const Im2colGeometry& g, const std::vector<StepRange>& cols,
                    opmath_t<T>* best, int64_t* where) {
  using Op = opmath_t<T>;
  for (int64_t oy = 0; oy < g.out_h; ++oy) {
    const int64_t y0 = oy * g.sh - g.ph;
    const StepRange ti = steps_inside(y0, g.dh, g.h, g.kh);
    std::fill_n(best, g.out_w, -std::numeric_limits<Op>::infinity());
    std::fill_n(where, g.out_w, int64_t(-1));
    for (int64_t i = ti.lo; i < ti.hi; ++i) {
      const int64_t row = (y0 + i * g.dh) * g.w;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t shift = row + j * g.dw - g.pw;  // pixel of window ox: shift + ox * sw
        for (int64_t ox = cols[size_t(j)].lo; ox < cols[size_t(j)].hi; ++ox) {
          const int64_t index = shift + ox * g.sw;
          const Op v = Op(x[index]);
          // The first pixel inside a window starts it (the index when nothing beats
          // -inf); a later NaN replaces an earlier one, as in PyTorch's CPU kernel.
          // Selects, not branches (hence | rather than ||): which pixel wins is a coin
          // flip to the predictor.
          const bool take = (v > best[ox]) | (v != v) | (where[ox] < 0);
          best[ox] = take ? v : best[ox];
          where[ox] = take ? index : where[ox];
        }
      }
    }
    for (int64_t ox = 0; ox < g.out_w; ++ox) {
      y[oy * g.out_w + ox] = T(best[ox]);
      indices[oy * g.out_w + ox] = where[ox];
    }
  }
}

void max_pool2d_cpu(const Tensor& y, const Tensor& indices, const Tensor& x, const Im2colGeometry& g) {
  dispatch_floating_and_half(x.dtype(), "max_pool2d", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    int64_t* ip = indices.data_ptr<int64_t>();
    const int64_t in_plane = g.h * g.w, out_plane = g.out_h * g.out_w;
    // cols[j]: the windows ox whose tap column j, ox * sw - pw + j * dw, is inside.
    std::vector<StepRange> cols(size_t(g.kw));
    for (int64_t j = 0; j < g.kw; ++j) cols[size_t(j)] = steps_inside(j * g.dw - g.pw, g.sw, g.w, g.out_w);
    cpu::parallel_for(0, g.planes, plane_grain(g), [&](int64_t begin, int64_t end) {
      std::vector<opmath_t<T>> best(size_t(g.out_w));
      std::vector<int64_t> where(size_t(g.out_w));
      for (int64_t p = begin; p < end; ++p)
        max_pool_plane(xp + p * in_plane, yp + p * out_plane, ip + p * out_plane, g, cols, best.data(), where.data());
    });
  });
}

void max_pool2d_backward_cpu(const Tensor& dx, const Tensor& dy, const Tensor& indices, const Im2colGeometry& g) {
  dispatch_floating_and_half(dx.dtype(), "max_pool2d", [&]<typename T>() {
    using Op = opmath_t<T>;
    T* dxp = dx.data_ptr<T>();
    const T* dyp = dy.data_ptr<T>();
    const int64_t* ip = indices.data_ptr<int64_t>();
    const int64_t in_plane = g.h * g.w, out_plane = g.out_h * g.out_w;
    cpu::parallel_for(0, g.planes, plane_grain(g), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        T* plane = dxp + p * in_plane;
        for (int64_t e = p * out_plane; e < (p + 1) * out_plane; ++e) {
          if (ip[e] >= 0) plane[ip[e]] = T(Op(plane[ip[e]]) + Op(dyp[e]));
        }
      }
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(max_pool2d_stub, DeviceType::CPU, max_pool2d_cpu);
KILN_REGISTER_KERNEL(max_pool2d_backward_stub, DeviceType::CPU, max_pool2d_backward_cpu);

}  // namespace kiln
