// CPU kernels of softmax and log_softmax (ops/softmax.cpp): one fused kernel per row
// that finds the max, sums the exponentials and writes the result, reading x as
// (outer, dim_size, inner).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/elementwise_simd.h"
#include "ops/cpu/lane_sum.h"
#include "ops/cpu/parallel.h"
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
// float32 SIMD path in 8 lanes side by side: cpu::lane_sum).
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

// A contiguous float32 row with the SIMD exp (Note [SIMD elementwise kernels]): x - m
// into y, exp in place, then the sum and the scaling. `scratch` holds the
// exponentials for log_softmax, whose output keeps x - m.
template <bool kLog>
void softmax_row_simd(const cpu::SimdElementwise& simd, const float* x, float* y, int64_t n, std::vector<float>& scratch) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max(m, x[j]);
  for (int64_t j = 0; j < n; ++j) y[j] = x[j] - m;
  if constexpr (kLog) {
    scratch.resize(size_t(n));
    simd.unary(cpu::SimdUnaryOp::Exp, scratch.data(), y, n, false);
    const float log_sum = float(std::log(cpu::lane_sum(n, [&](int64_t j) { return double(scratch[size_t(j)]); })));
    for (int64_t j = 0; j < n; ++j) y[j] -= log_sum;
  } else {
    simd.unary(cpu::SimdUnaryOp::Exp, y, y, n, false);
    const float inv = float(1.0 / cpu::lane_sum(n, [&](int64_t j) { return double(y[j]); }));
    for (int64_t j = 0; j < n; ++j) y[j] *= inv;
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
      cpu::parallel_for(0, outer, std::max<int64_t>(1, kSoftmaxGrain / n), [&](int64_t b, int64_t e) {
        if constexpr (std::is_same_v<T, float>) {
          if (simd != nullptr) {
            std::vector<float> scratch;
            for (int64_t r = b; r < e; ++r) softmax_row_simd<kLog>(*simd, in + r * n, o + r * n, n, scratch);
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

void softmax_forward_cpu(const Tensor& out, const Tensor& x) { softmax_forward<false>(out, x, "softmax"); }
void log_softmax_forward_cpu(const Tensor& out, const Tensor& x) { softmax_forward<true>(out, x, "log_softmax"); }

}  // namespace

KILN_REGISTER_KERNEL(softmax_stub, DeviceType::CPU, softmax_forward_cpu);
KILN_REGISTER_KERNEL(log_softmax_stub, DeviceType::CPU, log_softmax_forward_cpu);

}  // namespace kiln
