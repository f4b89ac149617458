// CUDA kernels of the fused layer norm (ops/norm.cpp), the device twin of ops/cpu/norm.cpp:
// a block per row for the statistics, the normalisation and dx, and a second backward
// kernel that sums dweight and dbias over the rows, a column per thread.
#include <algorithm>
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "cuda/math.cuh"
#include "cuda/runtime.h"
#include "ops/kernels/norm.h"

namespace kiln {

namespace {

// Note [CUDA layer norm numerics]
// Each row's sums (mean, biased variance by the two-pass formula, and the backward's
// sum(dxh) and sum(dxh * x_hat)) accumulate in double, as on the CPU; only the order of
// the additions differs (each thread sums a strided part of the row, then a tree), so
// mean and rstd agree to about 1e-15 relative before rounding to T. y and dx are then
// computed with the CPU's formulas (y in T, dx in double rounded to T); float32 results
// agree with the CPU to a few ulp (rtol 1e-5 in the parity tests), float64 to 1e-12.
// dweight and dbias sum over rows in double in row order per thread-row, then 8 partials.
constexpr int kRowThreads = 256;                 // a multiple of 32, at most 32 warps
constexpr int kColTile = 32, kColRowGroups = 8;  // layer_norm_backward_params_kernel1's block

// x, y: (rows, cols); mean, rstd: (rows); weight, bias: (cols) or nullptr. A block per
// row, looping grid-stride over rows (the loop bound is uniform across the block).
template <typename T>
__global__ void layer_norm_forward_kernel1(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias,
                                           int64_t rows, int64_t cols, double eps) {
  __shared__ double scratch[33];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * cols;
    double s = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += double(row[j]);
    const double mu = cuda::block_sum(s, scratch) / double(cols);
    double ss = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) ss += (double(row[j]) - mu) * (double(row[j]) - mu);
    const double inv = 1.0 / ::sqrt(cuda::block_sum(ss, scratch) / double(cols) + eps);
    if (threadIdx.x == 0) {
      mean[r] = T(mu);
      rstd[r] = T(inv);
    }
    const T m = T(mu), v = T(inv);
    T* out = y + r * cols;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      T h = (row[j] - m) * v;
      if (weight) h = h * weight[j];
      if (bias) h = h + bias[j];
      out[j] = h;
    }
  }
}

void layer_norm_cuda(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                     const Tensor& bias, double eps) {
  const int64_t rows = x.size(0), cols = x.size(1);
  if (rows == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data_ptr<T>() : nullptr;
    const unsigned blocks = unsigned(std::min<int64_t>(rows, 65535));
    layer_norm_forward_kernel1<T><<<blocks, kRowThreads, 0, cuda::stream_for(x.device().index)>>>(
        y.data_ptr<T>(), mean.data_ptr<T>(), rstd.data_ptr<T>(), x.data_ptr<T>(), wp, bp, rows, cols, eps);
  });
  cuda::check_launch("layer_norm (cuda)");
}

// dx = rstd (dxh - mean(dxh) - x_hat mean(dxh x_hat)) with dxh = dy * weight.
// dy, x, dx: (rows, cols); mean, rstd: (rows); weight: (cols) or nullptr. A block per row.
template <typename T>
__global__ void layer_norm_backward_input_kernel1(T* dx, const T* dy, const T* x, const T* mean, const T* rstd,
                                                  const T* weight, int64_t rows, int64_t cols) {
  __shared__ double scratch[33];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *row = x + r * cols, *g = dy + r * cols;
    const double m = double(mean[r]), v = double(rstd[r]);
    double sum_dxh = 0, sum_dxh_xhat = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const double xhat = (double(row[j]) - m) * v, dxh = double(g[j]) * (weight ? double(weight[j]) : 1.0);
      sum_dxh += dxh;
      sum_dxh_xhat += dxh * xhat;
    }
    const double mean_dxh = cuda::block_sum(sum_dxh, scratch) / double(cols);
    const double mean_dxh_xhat = cuda::block_sum(sum_dxh_xhat, scratch) / double(cols);
    T* out = dx + r * cols;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const double xhat = (double(row[j]) - m) * v, dxh = double(g[j]) * (weight ? double(weight[j]) : 1.0);
      out[j] = T(v * (dxh - mean_dxh - xhat * mean_dxh_xhat));
    }
  }
}

// dweight[j] = sum_r dy[r, j] x_hat[r, j], dbias[j] = sum_r dy[r, j] (either may be nullptr).
// Block (kColTile, kColRowGroups): threadIdx.x picks the column in a tile of kColTile,
// threadIdx.y the rows r = y, y + 8, ...; the 8 partial sums meet in shared memory.
// Tiles loop grid-stride over the columns.
template <typename T>
__global__ void layer_norm_backward_params_kernel1(T* dweight, T* dbias, const T* dy, const T* x, const T* mean,
                                                   const T* rstd, int64_t rows, int64_t cols) {
  __shared__ double part_w[kColRowGroups][kColTile];
  __shared__ double part_b[kColRowGroups][kColTile];
  for (int64_t tile = int64_t(blockIdx.x) * kColTile; tile < cols; tile += int64_t(gridDim.x) * kColTile) {
    const int64_t j = tile + threadIdx.x;
    double w = 0, b = 0;
    if (j < cols) {
      for (int64_t r = threadIdx.y; r < rows; r += kColRowGroups) {
        const double g = double(dy[r * cols + j]);
        w += g * ((double(x[r * cols + j]) - double(mean[r])) * double(rstd[r]));
        b += g;
      }
    }
    part_w[threadIdx.y][threadIdx.x] = w;
    part_b[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
      double tw = 0, tb = 0;
      for (int k = 0; k < kColRowGroups; ++k) {
        tw += part_w[k][threadIdx.x];
        tb += part_b[k][threadIdx.x];
      }
      if (dweight) dweight[j] = T(tw);
      if (dbias) dbias[j] = T(tb);
    }
    __syncthreads();  // the partials are rewritten by the next tile
  }
}

void layer_norm_backward_cuda(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                              const Tensor& x, const Tensor& mean, const Tensor& rstd, const Tensor& weight) {
  const int64_t rows = x.size(0), cols = x.size(1);
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  const cudaStream_t stream = cuda::stream_for(x.device().index);
  dispatch_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    if (rows > 0) {
      const unsigned blocks = unsigned(std::min<int64_t>(rows, 65535));
      layer_norm_backward_input_kernel1<T><<<blocks, kRowThreads, 0, stream>>>(
          dx.data_ptr<T>(), dy.data_ptr<T>(), x.data_ptr<T>(), mean.data_ptr<T>(), rstd.data_ptr<T>(), wp, rows, cols);
      cuda::check_launch("layer_norm backward (cuda)");
    }
    if ((dweight.defined() || dbias.defined()) && cols > 0) {
      // With no rows the sums are 0, which the kernel writes (its row loop is empty).
      T* dwp = dweight.defined() ? dweight.data_ptr<T>() : nullptr;
      T* dbp = dbias.defined() ? dbias.data_ptr<T>() : nullptr;
      const unsigned blocks = unsigned(std::min<int64_t>((cols + kColTile - 1) / kColTile, 65535));
      layer_norm_backward_params_kernel1<T><<<blocks, dim3(kColTile, kColRowGroups), 0, stream>>>(
          dwp, dbp, dy.data_ptr<T>(), x.data_ptr<T>(), mean.data_ptr<T>(), rstd.data_ptr<T>(), rows, cols);
      cuda::check_launch("layer_norm backward weight (cuda)");
    }
  });
}

}  // namespace

KILN_REGISTER_KERNEL(layer_norm_stub, DeviceType::CUDA, layer_norm_cuda);
KILN_REGISTER_KERNEL(layer_norm_backward_stub, DeviceType::CUDA, layer_norm_backward_cuda);

}  // namespace kiln
