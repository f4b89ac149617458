// CPU kernels of max pooling (ops/pool.h, contract in ops/kernels/pool.h). Threads take
// whole planes: the forward's windows and the backward's scatter never leave a plane, so
// the backward needs no atomics and sums a pixel's gradients in window order.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>
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

// take ? a : b on the bits, so that the compiler cannot turn it back into a branch (it
// did for the ternary, and half the branches missed).
template <typename V>
V blend(bool take, V a, V b) {
  using U = std::conditional_t<sizeof(V) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(V) == sizeof(U));
  const U mask = U(0) - U(take);
  return std::bit_cast<V>(U((std::bit_cast<U>(a) & mask) | (std::bit_cast<U>(b) & ~mask)));
}

// The windows of a row: cols[j] holds the windows [lo, hi) whose tap column j lies
// inside the plane, first[ox] the column of window ox's first pixel inside (-1 if none).
// The same for every row and plane, so computed once per call.
struct RowWindows {
  std::vector<StepRange> cols;
  std::vector<int64_t> first;
};

RowWindows row_windows(const Im2colGeometry& g) {
  RowWindows r{std::vector<StepRange>(size_t(g.kw)), std::vector<int64_t>(size_t(g.out_w))};
  for (int64_t j = 0; j < g.kw; ++j) r.cols[size_t(j)] = steps_inside(j * g.dw - g.pw, g.sw, g.w, g.out_w);
  for (int64_t ox = 0; ox < g.out_w; ++ox) {
    const int64_t x0 = ox * g.sw - g.pw;
    const StepRange tj = steps_inside(x0, g.dw, g.w, g.kw);
    r.first[size_t(ox)] = tj.lo < tj.hi ? x0 + tj.lo * g.dw : -1;
  }
  return r;
}

// One plane, a row of windows at a time. The loop runs tap by tap over the whole row of
// windows, so each window's running maximum is its own dependency chain and the chains
// of a row overlap: window by window, every tap would wait for the previous compare.
// Each window still sees its taps in (i, j) order, and starts from its first pixel
// inside the plane (the index when nothing beats -inf), so the result is the same.
// best and where are row scratch.
template <typename T>
void max_pool_plane(const T* __restrict x, T* __restrict y, int64_t* __restrict indices, const Im2colGeometry& g,
                    const RowWindows& rw, opmath_t<T>* __restrict best, int64_t* __restrict where) {
  using Op = opmath_t<T>;
  const int64_t w = g.w, sw = g.sw, out_w = g.out_w;
  for (int64_t oy = 0; oy < g.out_h; ++oy) {
    const int64_t y0 = oy * g.sh - g.ph;
    const StepRange ti = steps_inside(y0, g.dh, g.h, g.kh);
    const int64_t first_row = (y0 + ti.lo * g.dh) * w;
    for (int64_t ox = 0; ox < out_w; ++ox) {
      best[ox] = -std::numeric_limits<Op>::infinity();
      where[ox] = ti.lo < ti.hi && rw.first[size_t(ox)] >= 0 ? first_row + rw.first[size_t(ox)] : -1;
    }
    for (int64_t i = ti.lo; i < ti.hi; ++i) {
      const int64_t row = (y0 + i * g.dh) * w;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t shift = row + j * g.dw - g.pw;  // pixel of window ox: shift + ox * sw
        const int64_t lo = rw.cols[size_t(j)].lo, hi = rw.cols[size_t(j)].hi;
        for (int64_t ox = lo; ox < hi; ++ox) {
          const int64_t index = shift + ox * sw;
          const Op v = Op(x[index]);
          // A later NaN replaces an earlier one, as in PyTorch's CPU kernel. Selects, not
          // branches (| rather than ||, and blend): which pixel wins is a coin flip to
          // the predictor.
          const bool take = (v > best[ox]) | (v != v);
          best[ox] = blend(take, v, best[ox]);
          where[ox] = blend(take, index, where[ox]);
        }
      }
    }
    for (int64_t ox = 0; ox < out_w; ++ox) {
      y[oy * out_w + ox] = T(best[ox]);
      indices[oy * out_w + ox] = where[ox];
    }
  }
}

void max_pool2d_cpu(const Tensor& y, const Tensor& indices, const Tensor& x, const Im2colGeometry& g) {
  const RowWindows rw = row_windows(g);
  dispatch_floating_and_half(x.dtype(), "max_pool2d", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    int64_t* ip = indices.data_ptr<int64_t>();
    const int64_t in_plane = g.h * g.w, out_plane = g.out_h * g.out_w;
    cpu::parallel_for(0, g.planes, plane_grain(g), [&](int64_t begin, int64_t end) {
      std::vector<opmath_t<T>> best(size_t(g.out_w));
      std::vector<int64_t> where(size_t(g.out_w));
      for (int64_t p = begin; p < end; ++p)
        max_pool_plane(xp + p * in_plane, yp + p * out_plane, ip + p * out_plane, g, rw, best.data(), where.data());
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
