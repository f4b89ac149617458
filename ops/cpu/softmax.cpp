// CPU kernels of softmax and log_softmax (ops/softmax.cpp): one fused kernel per row
// that finds the max, sums the exponentials and writes the result, reading x as
// (outer, dim_size, inner); and the backward of each as one fused kernel per row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/elementwise_simd.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/rows_loops.h"
#include "ops/cpu/rows_simd.h"
#include "ops/kernels/softmax.h"

namespace kiln {

namespace {

constexpr int64_t kSoftmaxGrain = 16384;  // input elements per thread, at least
constexpr int64_t kColumnBlock = 256;     // inner positions one task handles side by side

// Note [Stable softmax]
//   softmax(x)_j     = exp(x_j - m) / sum_k exp(x_k - m),   m = max_k x_k
//   log_softmax(x)_j = (x_j - m) - log(sum_k exp(x_k - m))
// Subtracting m makes every exponent <= 0, so nothing overflows and the largest term is
// exactly 1 (the sum is >= 1, its log is finite). An input of -inf gets exp(-inf) = 0:
// probability 0, log-probability -inf. A row of only -inf has m = -inf and
// x - m = -inf - (-inf) = NaN, so the whole row is NaN, as in PyTorch (there is no
// distribution to normalise). Sums accumulate in double, like the reductions (the
// float32 SIMD path in 8 lanes side by side: the row kernels' row_sum).
// log_softmax subtracts m and the log-sum one at a time: folding them into one shift
// m + log(sum) first would round it at m's magnitude (at m = 1000 in float32, to
// within 6e-5) and lose the small differences between nearby inputs.

// One contiguous row of n elements.
template <typename T, bool kLog>
void softmax_row(const T* x, T* y, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max(m, x[j]);
  double sum = 0;
  if constexpr (kLog) {
    for (int64_t j = 0; j < n; ++j) sum += double(std::exp(x[j] - m));
    T log_sum = T(std::log(sum));
    for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - m) - log_sum;
  } else {
    for (int64_t j = 0; j < n; ++j) {
      T e = std::exp(x[j] - m);
      y[j] = e;
      sum += double(e);
    }
    T inv = T(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) y[j] *= inv;
  }
}

// Contiguous float32 rows with the SIMD exp (Note [SIMD elementwise kernels]) and the row
// loops of the active ISA (Note [SIMD row kernels]): per row the max and x - m into y,
// then exp over the block, then each row's sum and the scaling. The rows of a block go
// through exp in one call, so short rows (cross_entropy's 10 classes) do not each pay
// for a call and a tail. `scratch` holds the exponentials for log_softmax, whose output
// keeps x - m. (The max, the shift and the scaling were plain loops built for SSE2, the
// max a chain of dependent compares: (4096, 1024) took 2.86 ms, most of it there.)
constexpr int64_t kSoftmaxBlock = 4096;  // elements per exp call, at least one row

template <bool kLog>
void softmax_rows_simd(const cpu::SimdElementwise& simd, const cpu::RowKernels& rk, const float* x, float* y,
                       int64_t rows, int64_t n, std::vector<float>& scratch) {
  const int64_t block_rows = std::max<int64_t>(1, kSoftmaxBlock / n);
  for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
    const int64_t count = std::min(block_rows, rows - r0), len = count * n;
    const float* xb = x + r0 * n;
    float* yb = y + r0 * n;
    for (int64_t r = 0; r < count; ++r) rk.row_add(xb + r * n, yb + r * n, n, -rk.row_max(xb + r * n, n));
    float* e = yb;
    if constexpr (kLog) {
      scratch.resize(size_t(len));
      e = scratch.data();
    }
    simd.unary(cpu::SimdUnaryOp::Exp, e, yb, len, false);
    for (int64_t r = 0; r < count; ++r) {
      const double sum = rk.row_sum(e + r * n, n);
      if constexpr (kLog) {
        rk.row_add(yb + r * n, yb + r * n, n, -float(std::log(sum)));
      } else {
        rk.row_scale(yb + r * n, n, float(1.0 / sum));
      }
    }
  }
}

// A block of `cols` neighbouring rows that are strided by `inner` (softmax over a dim
// that is not the last): the same three passes, each walking the dim and updating all
// columns of the block from one contiguous segment.
template <typename T, bool kLog>
void softmax_columns(const T* x, T* y, int64_t n, int64_t inner, int64_t cols, std::vector<T>& m,
                     std::vector<double>& sum) {
  m.assign(size_t(cols), -std::numeric_limits<T>::infinity());
  sum.assign(size_t(cols), 0.0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < cols; ++c) m[size_t(c)] = std::max(m[size_t(c)], x[j * inner + c]);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t c = 0; c < cols; ++c) {
      T e = std::exp(x[j * inner + c] - m[size_t(c)]);
      if constexpr (!kLog) y[j * inner + c] = e;
      sum[size_t(c)] += double(e);
    }
  }
  for (int64_t c = 0; c < cols; ++c) sum[size_t(c)] = kLog ? std::log(sum[size_t(c)]) : 1.0 / sum[size_t(c)];
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t c = 0; c < cols; ++c) {
      if constexpr (kLog) {
        y[j * inner + c] = (x[j * inner + c] - m[size_t(c)]) - T(sum[size_t(c)]);
      } else {
        y[j * inner + c] *= T(sum[size_t(c)]);
      }
    }
  }
}

// x, out: (outer, dim_size, inner) contiguous; softmax over dim 1.
template <bool kLog>
void softmax_forward(const Tensor& out, const Tensor& x, const char* op) {
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    const int64_t outer = x.size(0), n = x.size(1), inner = x.size(2);
    if (outer * n * inner == 0) return;
    const T* in = x.data_ptr<T>();
    T* o = out.data_ptr<T>();
    if (inner == 1) {
      const cpu::SimdElementwise* simd = std::is_same_v<T, float> ? cpu::simd_elementwise() : nullptr;
      const cpu::RowKernels* rk = std::is_same_v<T, float> ? cpu::row_kernels() : nullptr;
      cpu::parallel_for(0, outer, std::max<int64_t>(1, kSoftmaxGrain / n), [&](int64_t b, int64_t e) {
        if constexpr (std::is_same_v<T, float>) {
          if (simd != nullptr && rk != nullptr) {
            std::vector<float> scratch;
            softmax_rows_simd<kLog>(*simd, *rk, in + b * n, o + b * n, e - b, n, scratch);
            return;
          }
        }
        for (int64_t r = b; r < e; ++r) softmax_row<T, kLog>(in + r * n, o + r * n, n);
      });
      return;
    }
    const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
    const int64_t task_cost = n * std::min(inner, kColumnBlock);
    cpu::parallel_for(0, outer * blocks, std::max<int64_t>(1, kSoftmaxGrain / task_cost), [&](int64_t b, int64_t e) {
      std::vector<T> m;
      std::vector<double> sum;
      for (int64_t t = b; t < e; ++t) {
        int64_t i = t / blocks;
        int64_t c0 = (t % blocks) * kColumnBlock;
        int64_t cols = std::min(inner - c0, kColumnBlock);
        int64_t base = i * n * inner + c0;
        softmax_columns<T, kLog>(in + base, o + base, n, inner, cols, m, sum);
      }
    });
  });
}

// Note [Fused softmax backward]
// With y the forward's output and g the incoming gradient, per row:
//   softmax:     dx = y * (g - sum(g * y))
//   log_softmax: dx = g - exp(y) * sum(g)
// One kernel reads the row for the sum (in double, 8 lanes: ops/cpu/rows_loops.h) and
// again, now from cache, for dx. Float32 rows run those loops built for the active ISA
// (Note [SIMD row kernels]); log_softmax's take exp from the SIMD kernels (Note [SIMD
// elementwise kernels]), written into dx and then combined in place. The scalar loops
// are the reference and the float64 path. Under create_graph ops/softmax.cpp uses
// the same formulas written with kiln ops instead.

// One contiguous row: the scalar reference and float64 (rows_loops.h), or the float32
// loops of the active ISA with the SIMD exp for log_softmax.
template <typename T, bool kLog>
void softmax_backward_row(const cpu::RowKernels* rows, const cpu::SimdElementwise* simd, const T* y, const T* g,
                          T* dx, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (rows != nullptr && simd != nullptr) {
      if constexpr (kLog) {
        const float s = float(rows->row_sum(g, n));
        simd->unary(cpu::SimdUnaryOp::Exp, dx, y, n, false);
        rows->log_softmax_backward_combine(g, dx, dx, n, s);
      } else {
        rows->softmax_backward_row(y, g, dx, n);
      }
      return;
    }
  }
  if constexpr (kLog) {
    const T s = T(cpu::row_sum(g, n));
    for (int64_t j = 0; j < n; ++j) dx[j] = g[j] - std::exp(y[j]) * s;
  } else {
    cpu::softmax_backward_row(y, g, dx, n);
  }
}

// `cols` neighbouring rows strided by `inner`: the sums for all columns of the block in
// one walk over the dim, then dx in a second.
template <typename T, bool kLog>
void softmax_backward_columns(const T* y, const T* g, T* dx, int64_t n, int64_t inner, int64_t cols,
                              std::vector<double>& sum) {
  sum.assign(size_t(cols), 0.0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < cols; ++c)
      sum[size_t(c)] += kLog ? double(g[j * inner + c]) : double(g[j * inner + c]) * double(y[j * inner + c]);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = j * inner + c;
      const T s = T(sum[size_t(c)]);
      if constexpr (kLog) {
        dx[i] = g[i] - std::exp(y[i]) * s;
      } else {
        dx[i] = y[i] * (g[i] - s);
      }
    }
  }
}

// dx, dy, y: (outer, dim_size, inner) contiguous; see Note [Fused softmax backward].
template <bool kLog>
void softmax_backward(const Tensor& dx, const Tensor& dy, const Tensor& y, const char* op) {
  dispatch_floating(y.dtype(), op, [&]<typename T>() {
    const int64_t outer = y.size(0), n = y.size(1), inner = y.size(2);
    if (outer * n * inner == 0) return;
    const T *yp = y.data_ptr<T>(), *gp = dy.data_ptr<T>();
    T* o = dx.data_ptr<T>();
    if (inner == 1) {
      const cpu::RowKernels* rows = std::is_same_v<T, float> ? cpu::row_kernels() : nullptr;
      const cpu::SimdElementwise* simd = std::is_same_v<T, float> ? cpu::simd_elementwise() : nullptr;
      cpu::parallel_for(0, outer, std::max<int64_t>(1, kSoftmaxGrain / n), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r)
          softmax_backward_row<T, kLog>(rows, simd, yp + r * n, gp + r * n, o + r * n, n);
      });
      return;
    }
    const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
    const int64_t task_cost = n * std::min(inner, kColumnBlock);
    cpu::parallel_for(0, outer * blocks, std::max<int64_t>(1, kSoftmaxGrain / task_cost), [&](int64_t b, int64_t e) {
      std::vector<double> sum;
      for (int64_t t = b; t < e; ++t) {
        const int64_t i = t / blocks, c0 = (t % blocks) * kColumnBlock;
        const int64_t base = i * n * inner + c0;
        softmax_backward_columns<T, kLog>(yp + base, gp + base, o + base, n, inner, std::min(inner - c0, kColumnBlock),
                                          sum);
      }
    });
  });
}

void softmax_forward_cpu(const Tensor& out, const Tensor& x) { softmax_forward<false>(out, x, "softmax"); }
void log_softmax_forward_cpu(const Tensor& out, const Tensor& x) { softmax_forward<true>(out, x, "log_softmax"); }
void softmax_backward_cpu(const Tensor& dx, const Tensor& dy, const Tensor& y) {
  softmax_backward<false>(dx, dy, y, "softmax");
}
void log_softmax_backward_cpu(const Tensor& dx, const Tensor& dy, const Tensor& y) {
  softmax_backward<true>(dx, dy, y, "log_softmax");
}

}  // namespace

KILN_REGISTER_KERNEL(softmax_stub, DeviceType::CPU, softmax_forward_cpu);
KILN_REGISTER_KERNEL(log_softmax_stub, DeviceType::CPU, log_softmax_forward_cpu);
KILN_REGISTER_KERNEL(softmax_backward_stub, DeviceType::CPU, softmax_backward_cpu);
KILN_REGISTER_KERNEL(log_softmax_backward_stub, DeviceType::CPU, log_softmax_backward_cpu);

}  // namespace kiln
