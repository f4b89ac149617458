// CUDA kernels of softmax and log_softmax (ops/softmax.cpp): x, out: (outer, n, inner)
// contiguous, normalised over dim 1. One pass finds the row's max and sum of
// exponentials together (Note [Online softmax]), a second writes the result; a warp per
// row for short rows, a block per row for long ones, a thread per column when inner > 1.
// The fused backwards (Note [CUDA fused softmax backward]) use the same three shapes.
#include <algorithm>
#include <type_traits>

#include <math_constants.h>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/math.cuh"
#include "cuda/runtime.h"
#include "ops/kernels/softmax.h"

namespace kiln {

namespace {

namespace m = cuda::math;

// Note [Online softmax]
// The CPU's stable formula (Note [Stable softmax] in ops/cpu/softmax.cpp) needs the row
// max m before summing exp(x - m). Keeping a running max and a sum relative to it gives
// both in one read of the row: on a new maximum v > m the sum so far is rescaled,
//   s <- s exp(m - v) + exp(v - v),  m <- v;   otherwise s <- s + exp(v - m),
// and two partial states (m1, s1), (m2, s2) of the same row combine as
//   M = max(m1, m2),  s = s1 exp(m1 - M) + s2 exp(m2 - M).
// Sums are in double, each term exp(v - m) computed in T, as on the CPU. Inputs of -inf
// add exactly 0 and are skipped while m is still -inf (exp(-inf - -inf) would be NaN);
// a row of only -inf keeps s = 0 and comes out NaN in the second pass, like the CPU's.
// NaN inputs make s NaN (the max ignores them, as std::max does on the CPU), and +inf
// gives exp(inf - inf) = NaN in the sum, so such rows are NaN as on the CPU.
template <typename T>
struct MaxSum {
  T m;
  double s;
  __device__ void add(T v) {
    if (v > m) {
      s = s * ::exp(double(m) - double(v)) + double(m::exp(T(v - v)));
      m = v;
    } else if (!(v == -CUDART_INF_F && m == -CUDART_INF_F)) {
      s += double(m::exp(T(v - m)));
    }
  }
  __device__ void merge(const MaxSum& o) {
    T big = o.m > m ? o.m : m;
    if (big == T(-CUDART_INF_F)) {
      s += o.s;
    } else {
      s = s * ::exp(double(m) - double(big)) + o.s * ::exp(double(o.m) - double(big));
    }
    m = big;
  }
};

template <typename T>
__device__ MaxSum<T> shfl_xor(const MaxSum<T>& a, int mask) {
  return {__shfl_xor_sync(0xffffffffu, a.m, mask), __shfl_xor_sync(0xffffffffu, a.s, mask)};
}

// Every lane ends with the merge of the warp's 32 states (butterfly).
template <typename T>
__device__ MaxSum<T> warp_all_reduce(MaxSum<T> st) {
#pragma unroll
  for (int mask = 16; mask > 0; mask /= 2) st.merge(shfl_xor(st, mask));
  return st;
}

// Writes one row (or column, with `stride` inner) from its max and sum.
template <typename T, bool kLog>
__device__ void write_normalised(const T* x, T* y, int64_t j, int64_t stride, const MaxSum<T>& st) {
  if constexpr (kLog) {
    y[j * stride] = (x[j * stride] - st.m) - T(::log(st.s));
  } else {
    y[j * stride] = m::exp(T(x[j * stride] - st.m)) * T(1.0 / st.s);
  }
}

constexpr int kWarpRowsPerBlock = 4;     // softmax_warp_kernel1: 4 warps of 32, a row each
constexpr int64_t kWarpRowMax = 1024;    // rows up to this length go a warp each
constexpr int kBlockRowThreads = 256;    // softmax_block_kernel1
constexpr int64_t kMaxRowBlocks = 65535 * 16;  // grid cap of the row kernels (they loop grid-stride)

// x, y: (rows, n); a warp per row, grid-stride over rows.
template <typename T, bool kLog>
__global__ void softmax_warp_kernel1(const T* x, T* y, int64_t rows, int64_t n) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = blockIdx.x * int64_t(kWarpRowsPerBlock) + threadIdx.x / 32;
  const int64_t warps = int64_t(gridDim.x) * kWarpRowsPerBlock;
  for (int64_t row = warp; row < rows; row += warps) {  // the same row for the whole warp
    const T* xr = x + row * n;
    T* yr = y + row * n;
    MaxSum<T> st{T(-CUDART_INF_F), 0.0};
    for (int64_t j = lane; j < n; j += 32) st.add(xr[j]);
    st = warp_all_reduce(st);
    for (int64_t j = lane; j < n; j += 32) write_normalised<T, kLog>(xr, yr, j, 1, st);
  }
}

// x, y: (rows, n); a block of kBlockRowThreads per row, grid-stride over rows.
template <typename T, bool kLog>
__global__ void softmax_block_kernel1(const T* x, T* y, int64_t rows, int64_t n) {
  __shared__ T warp_m[kBlockRowThreads / 32];
  __shared__ double warp_s[kBlockRowThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // the same row for the whole block
    const T* xr = x + row * n;
    T* yr = y + row * n;
    MaxSum<T> st{T(-CUDART_INF_F), 0.0};
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) st.add(xr[j]);
    st = warp_all_reduce(st);
    if (lane == 0) {
      warp_m[warp] = st.m;
      warp_s[warp] = st.s;
    }
    __syncthreads();
    // Every thread merges the warps' states in the same order: the same result everywhere.
    MaxSum<T> row_st{warp_m[0], warp_s[0]};
    for (int w = 1; w < kBlockRowThreads / 32; ++w) row_st.merge(MaxSum<T>{warp_m[w], warp_s[w]});
    __syncthreads();  // warp_m / warp_s are free again for the next row
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) write_normalised<T, kLog>(xr, yr, j, 1, row_st);
  }
}

// x, y: (outer, n, inner) with inner > 1; a thread per column (o, i), grid-stride.
template <typename T, bool kLog>
__global__ void softmax_column_kernel1(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (c / inner) * n * inner + c % inner;
    MaxSum<T> st{T(-CUDART_INF_F), 0.0};
    for (int64_t j = 0; j < n; ++j) st.add(x[base + j * inner]);
    for (int64_t j = 0; j < n; ++j) write_normalised<T, kLog>(x + base, y + base, j, inner, st);
  }
}

// x, out: (outer, n, inner) contiguous; softmax over dim 1.
template <bool kLog>
void softmax_forward(const Tensor& out, const Tensor& x, const char* op) {
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    const int64_t outer = x.size(0), n = x.size(1), inner = x.size(2);
    if (outer * n * inner == 0) return;
    KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
    const cudaStream_t stream = cuda::stream_for(x.device().index);
    const T* in = static_cast<const T*>(x.raw_data());
    T* o = static_cast<T*>(out.raw_data());
    if (inner > 1) {
      auto cfg = cuda::launch_config_1d(outer * inner);
      softmax_column_kernel1<T, kLog><<<cfg.blocks, cfg.threads, 0, stream>>>(in, o, outer, n, inner);
    } else if (n <= kWarpRowMax) {
      int64_t blocks = std::min((outer + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock, kMaxRowBlocks);
      softmax_warp_kernel1<T, kLog><<<unsigned(blocks), 32 * kWarpRowsPerBlock, 0, stream>>>(in, o, outer, n);
    } else {
      int64_t blocks = std::min(outer, kMaxRowBlocks);
      softmax_block_kernel1<T, kLog><<<unsigned(blocks), kBlockRowThreads, 0, stream>>>(in, o, outer, n);
    }
    cuda::check_launch(op);
  });
}

// Note [CUDA fused softmax backward]
// The device twin of Note [Fused softmax backward] in ops/cpu/softmax.cpp. With y the
// forward's output and g the incoming gradient, per row (or column):
//   softmax:     dx = y (g - s),        s = sum(g y)
//   log_softmax: dx = g - exp(y) s,     s = sum(g)
// s accumulates in double and is rounded once to T; dx is then computed in T with the
// CPU's expressions. Each thread sums a strided share of the row; a warp adds its lanes
// by a butterfly (every lane ends with the same bits: each step adds the same two
// values, only in swapped order), and a block adds its warps' sums in order. No atomics:
// the same result on every run.

// The term of s that element j adds: g y for softmax, g for log_softmax.
template <typename T, bool kLog>
__device__ double backward_term(const T* y, const T* g, int64_t j) {
  if constexpr (kLog) {
    return double(g[j]);
  } else {
    return double(g[j]) * double(y[j]);
  }
}

// dx at j from the row's sum s (rounded to T).
template <typename T, bool kLog>
__device__ void write_backward(const T* y, const T* g, T* dx, int64_t j, T s) {
  if constexpr (kLog) {
    dx[j] = g[j] - m::exp(y[j]) * s;
  } else {
    dx[j] = y[j] * (g[j] - s);
  }
}

// Every lane ends with the sum of the warp's 32 values.
__device__ double warp_all_sum(double v) {
#pragma unroll
  for (int mask = 16; mask > 0; mask /= 2) v += __shfl_xor_sync(0xffffffffu, v, mask);
  return v;
}

// y, g, dx: (rows, n); a warp per row, grid-stride over rows.
template <typename T, bool kLog>
__global__ void softmax_backward_warp_kernel1(const T* y, const T* g, T* dx, int64_t rows, int64_t n) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = blockIdx.x * int64_t(kWarpRowsPerBlock) + threadIdx.x / 32;
  const int64_t warps = int64_t(gridDim.x) * kWarpRowsPerBlock;
  for (int64_t row = warp; row < rows; row += warps) {  // the same row for the whole warp
    const T *yr = y + row * n, *gr = g + row * n;
    T* dxr = dx + row * n;
    double s = 0;
    for (int64_t j = lane; j < n; j += 32) s += backward_term<T, kLog>(yr, gr, j);
    const T total = T(warp_all_sum(s));
    for (int64_t j = lane; j < n; j += 32) write_backward<T, kLog>(yr, gr, dxr, j, total);
  }
}

// y, g, dx: (rows, n); a block of kBlockRowThreads per row, grid-stride over rows.
template <typename T, bool kLog>
__global__ void softmax_backward_block_kernel1(const T* y, const T* g, T* dx, int64_t rows, int64_t n) {
  __shared__ double warp_s[kBlockRowThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // the same row for the whole block
    const T *yr = y + row * n, *gr = g + row * n;
    T* dxr = dx + row * n;
    double s = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += backward_term<T, kLog>(yr, gr, j);
    s = warp_all_sum(s);
    if (lane == 0) warp_s[warp] = s;
    __syncthreads();
    // Every thread adds the warps' sums in the same order: the same total everywhere.
    double row_s = warp_s[0];
    for (int w = 1; w < kBlockRowThreads / 32; ++w) row_s += warp_s[w];
    __syncthreads();  // warp_s is free again for the next row
    const T total = T(row_s);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) write_backward<T, kLog>(yr, gr, dxr, j, total);
  }
}

// y, g, dx: (outer, n, inner) with inner > 1; a thread per column (o, i), grid-stride.
template <typename T, bool kLog>
__global__ void softmax_backward_column_kernel1(const T* y, const T* g, T* dx, int64_t outer, int64_t n,
                                                int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (c / inner) * n * inner + c % inner;
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += backward_term<T, kLog>(y + base, g + base, j * inner);
    const T total = T(s);
    for (int64_t j = 0; j < n; ++j) write_backward<T, kLog>(y + base, g + base, dx + base, j * inner, total);
  }
}

// dx, dy, y: (outer, n, inner) contiguous; see Note [CUDA fused softmax backward].
template <bool kLog>
void softmax_backward(const Tensor& dx, const Tensor& dy, const Tensor& y, const char* op) {
  dispatch_floating(y.dtype(), op, [&]<typename T>() {
    const int64_t outer = y.size(0), n = y.size(1), inner = y.size(2);
    if (outer * n * inner == 0) return;
    KILN_CUDA_CHECK(cudaSetDevice(y.device().index));
    const cudaStream_t stream = cuda::stream_for(y.device().index);
    const T *yp = y.data_ptr<T>(), *gp = dy.data_ptr<T>();
    T* o = dx.data_ptr<T>();
    if (inner > 1) {
      auto cfg = cuda::launch_config_1d(outer * inner);
      softmax_backward_column_kernel1<T, kLog><<<cfg.blocks, cfg.threads, 0, stream>>>(yp, gp, o, outer, n, inner);
    } else if (n <= kWarpRowMax) {
      int64_t blocks = std::min((outer + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock, kMaxRowBlocks);
      softmax_backward_warp_kernel1<T, kLog><<<unsigned(blocks), 32 * kWarpRowsPerBlock, 0, stream>>>(yp, gp, o, outer,
                                                                                                     n);
    } else {
      int64_t blocks = std::min(outer, kMaxRowBlocks);
      softmax_backward_block_kernel1<T, kLog><<<unsigned(blocks), kBlockRowThreads, 0, stream>>>(yp, gp, o, outer, n);
    }
    cuda::check_launch(op);
  });
}

void softmax_forward_cuda(const Tensor& out, const Tensor& x) { softmax_forward<false>(out, x, "softmax"); }
void log_softmax_forward_cuda(const Tensor& out, const Tensor& x) { softmax_forward<true>(out, x, "log_softmax"); }
void softmax_backward_cuda(const Tensor& dx, const Tensor& dy, const Tensor& y) {
  softmax_backward<false>(dx, dy, y, "softmax backward");
}
void log_softmax_backward_cuda(const Tensor& dx, const Tensor& dy, const Tensor& y) {
  softmax_backward<true>(dx, dy, y, "log_softmax backward");
}

}  // namespace

KILN_REGISTER_KERNEL(softmax_stub, DeviceType::CUDA, softmax_forward_cuda);
KILN_REGISTER_KERNEL(log_softmax_stub, DeviceType::CUDA, log_softmax_forward_cuda);
KILN_REGISTER_KERNEL(softmax_backward_stub, DeviceType::CUDA, softmax_backward_cuda);
KILN_REGISTER_KERNEL(log_softmax_backward_stub, DeviceType::CUDA, log_softmax_backward_cuda);

}  // namespace kiln
