// CUDA kernels of the fused batch norm (ops/norm.cpp, contracts in ops/kernels/norm.h),
// the device twin of ops/cpu/batch_norm.cpp: per-channel sums by blocks over parts of a
// channel and a fixed-order combine (Note [CUDA batch norm sums]), then the elementwise
// normalisation and dx. Parity with the CPU: tests/cuda/norm_parity_test.cpp.
#include <algorithm>
#include <cstdint>

#include "core/dispatch.h"
#include "core/factory.h"
#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "cuda/runtime.h"
#include "ops/kernels/norm.h"

namespace kiln {

namespace {

// Note [CUDA batch norm sums]
// x is (N, C, S) contiguous: channel c's M = N S values are N planes of S, C S apart.
// Each channel is cut into `parts` runs of `len` consecutive values (in (n, j) order),
// the cut chosen from the shape alone (never from the device), so that a small C still
// fills the GPU and every run on every GPU adds in the same order:
//   pass 1, a block per (channel, part): each thread sums a strided share in double,
//     then a warp shuffle tree and the warps in order (block_sum). The statistics take
//     the part's mean, then its centred sum of squares M2 about that mean (a second read
//     of the part, mostly from L2); the backward takes sum(dy) and sum(dy (x - mean)).
//   pass 2, a thread per channel: the parts in order of p, the moments by Chan et al.'s
//     rule (Note [Batch norm sums] in ops/cpu/batch_norm.cpp), the backward's sums added.
// No atomics, so the results are bit-identical from run to run. The CPU groups the same
// double additions by plane instead, so the sums agree to about 1e-15 relative and
// nearly always round to the same T; y and dx then use the CPU's formulas in T.
constexpr int kThreads = 256;                 // every block here: a multiple of 32, at most 32 warps
constexpr int64_t kPartValues = 16384;        // values a block of pass 1 sums, at least (unless M is smaller)
constexpr int64_t kTargetBlocks = 1024;       // blocks pass 1 aims for when C alone gives fewer
constexpr int64_t kMaxBlocks = 65535;         // grid cap of the block-per-item kernels (grid-stride)
constexpr int64_t kElementwiseBlocks = 4096;  // grid cap of the elementwise kernels (grid-stride)

// How a channel of `count` values is cut: `parts` runs of `len` values, the last one
// shorter, none empty. {0, 0} when there is nothing to sum.
struct ChannelSplit {
  int64_t parts, len;
};

ChannelSplit split_channels(int64_t c, int64_t count) {
  if (c == 0 || count == 0) return {0, 0};
  const int64_t wanted = std::min((count + kPartValues - 1) / kPartValues, std::max<int64_t>(1, kTargetBlocks / c));
  const int64_t len = (count + wanted - 1) / wanted;
  return {(count + len - 1) / len, len};  // rounding len up may leave fewer parts than wanted
}

// Walks the flat index k = n S + j of one channel's values `step` at a time, keeping
// (n, j) without a 64-bit division per step. The value sits at n C S + j past the
// channel's first plane.
struct ChannelWalk {
  int64_t n, j;
  int64_t s, dn, dj;
  __device__ ChannelWalk(int64_t k, int64_t step, int64_t s_)
      : n(k / s_), j(k % s_), s(s_), dn(step / s_), dj(step % s_) {}
  __device__ void next() {
    n += dn;
    j += dj;
    if (j >= s) {
      j -= s;
      ++n;
    }
  }
};

// Walks the flat index i of (N, C, S) `step` at a time, keeping its channel (i / S) % C
// and its place j = i % S in the plane without a division per step: a carry out of j
// moves the plane on by one, and the channel by (step / S) % C + carry < 2 C.
struct ChannelOf {
  int64_t ch, j;
  int64_t c, s, dc, dj;
  __device__ ChannelOf(int64_t i, int64_t step, int64_t c_, int64_t s_)
      : ch((i / s_) % c_), j(i % s_), c(c_), s(s_), dc((step / s_) % c_), dj(step % s_) {}
  __device__ void next() {
    j += dj;
    ch += dc;
    if (j >= s) {
      j -= s;
      ++ch;
    }
    if (ch >= c) ch -= c;
  }
};

// Pass 1 of the statistics. x: (N, C, S); part: (C, parts, 2) doubles, each part's mean
// and M2. A block per (channel, part) b = ch parts + p, grid-stride over them.
template <typename T>
__global__ void batch_norm_stats_parts_kernel1(double* part, const T* x, int64_t c, int64_t s, int64_t count,
                                               int64_t parts, int64_t len) {
  __shared__ double scratch[33];
  const int64_t plane_stride = c * s;
  for (int64_t b = blockIdx.x; b < c * parts; b += gridDim.x) {  // uniform across the block
    const int64_t ch = b / parts, begin = (b % parts) * len;
    const int64_t end = begin + len < count ? begin + len : count;
    const T* xc = x + ch * s;
    double sum = 0;
    ChannelWalk w(begin + threadIdx.x, blockDim.x, s);
    for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x, w.next())
      sum += double(xc[w.n * plane_stride + w.j]);
    const double mean = cuda::block_sum(sum, scratch) / double(end - begin);
    double m2 = 0;
    ChannelWalk w2(begin + threadIdx.x, blockDim.x, s);
    for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x, w2.next()) {
      const double d = double(xc[w2.n * plane_stride + w2.j]) - mean;
      m2 += d * d;
    }
    m2 = cuda::block_sum(m2, scratch);
    if (threadIdx.x == 0) {
      part[2 * b] = mean;
      part[2 * b + 1] = m2;
    }
  }
}

// Pass 2 of the statistics. part: (C, parts, 2) from pass 1; mean, var: (C), var biased.
// A thread per channel combining its parts in order (Chan et al.). With no values
// (parts == 0, never when training) both come out NaN, as on the CPU.
template <typename T>
__global__ void batch_norm_stats_combine_kernel1(T* mean, T* var, const double* part, int64_t c, int64_t count,
                                                 int64_t parts, int64_t len) {
  for (int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; ch < c; ch += int64_t(gridDim.x) * blockDim.x) {
    double na = 0, ma = 0.0 / double(count), m2a = 0;
    for (int64_t p = 0; p < parts; ++p) {
      const double nb = double(p + 1 < parts ? len : count - p * len);
      const double mb = part[2 * (ch * parts + p)], m2b = part[2 * (ch * parts + p) + 1];
      if (p == 0) {
        na = nb, ma = mb, m2a = m2b;
        continue;
      }
      const double total = na + nb, d = mb - ma;
      ma += d * nb / total;
      m2a += m2b + d * d * na * nb / total;
      na = total;
    }
    mean[ch] = T(ma);
    var[ch] = T(m2a / double(count));
  }
}

// mean, var: (C); x: (N, C, S). See Note [CUDA batch norm sums].
void batch_norm_stats_cuda(const Tensor& mean, const Tensor& var, const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1), s = x.size(2), count = n * s;
  if (c == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  const cudaStream_t stream = cuda::stream_for(x.device().index);
  const ChannelSplit split = split_channels(c, count);
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    Tensor part;
    if (split.parts > 0) {
      part = empty({c * split.parts * 2}, TensorOptions(kFloat64).with_device(x.device()));
      const unsigned blocks = unsigned(std::min(c * split.parts, kMaxBlocks));
      batch_norm_stats_parts_kernel1<T><<<blocks, kThreads, 0, stream>>>(part.data_ptr<double>(), x.data_ptr<T>(), c,
                                                                        s, count, split.parts, split.len);
      cuda::check_launch("batch_norm statistics (cuda)");
    }
    const unsigned blocks = unsigned(std::min((c + kThreads - 1) / kThreads, kMaxBlocks));
    batch_norm_stats_combine_kernel1<T><<<blocks, kThreads, 0, stream>>>(
        mean.data_ptr<T>(), var.data_ptr<T>(), part.defined() ? part.data_ptr<double>() : nullptr, c, count,
        split.parts, split.len);
    cuda::check_launch("batch_norm statistics combine (cuda)");
  });
}

// y, x: (N, C, S) as numel values; mean, invstd: (C); weight, bias: (C) or nullptr.
// y = (x - mean) k + bias with k = invstd weight rounded once to T, as on the CPU
// (batch_norm_cpu): subtracting the mean first keeps the small deviations of a
// large-mean channel. Grid-stride.
template <typename T>
__global__ void batch_norm_forward_kernel1(T* y, const T* x, const T* mean, const T* invstd, const T* weight,
                                           const T* bias, int64_t numel, int64_t c, int64_t s) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  ChannelOf at(first, step, c, s);
  for (int64_t i = first; i < numel; i += step, at.next()) {
    const int64_t ch = at.ch;
    const T k = weight ? T(double(invstd[ch]) * double(weight[ch])) : invstd[ch];
    const T b = bias ? bias[ch] : T(0);
    y[i] = (x[i] - mean[ch]) * k + b;
  }
}

unsigned elementwise_blocks(int64_t numel) {
  return unsigned(std::min((numel + kThreads - 1) / kThreads, kElementwiseBlocks));
}

void batch_norm_cuda(const Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                     const Tensor& bias) {
  const int64_t numel = x.numel(), c = x.size(1), s = x.size(2);
  if (numel == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data_ptr<T>() : nullptr;
    batch_norm_forward_kernel1<T><<<elementwise_blocks(numel), kThreads, 0, cuda::stream_for(x.device().index)>>>(
        y.data_ptr<T>(), x.data_ptr<T>(), mean.data_ptr<T>(), invstd.data_ptr<T>(), wp, bp, numel, c, s);
  });
  cuda::check_launch("batch_norm (cuda)");
}

// Pass 1 of the backward. dy, x: (N, C, S); mean: (C); part: (C, parts, 2) doubles,
// each part's sum(dy) and sum(dy (x - mean)). A block per (channel, part), grid-stride.
template <typename T>
__global__ void batch_norm_backward_parts_kernel1(double* part, const T* dy, const T* x, const T* mean, int64_t c,
                                                  int64_t s, int64_t count, int64_t parts, int64_t len) {
  __shared__ double scratch[33];
  const int64_t plane_stride = c * s;
  for (int64_t b = blockIdx.x; b < c * parts; b += gridDim.x) {  // uniform across the block
    const int64_t ch = b / parts, begin = (b % parts) * len;
    const int64_t end = begin + len < count ? begin + len : count;
    const T *xc = x + ch * s, *gc = dy + ch * s;
    const double m = double(mean[ch]);
    double sum_g = 0, sum_g_xm = 0;
    ChannelWalk w(begin + threadIdx.x, blockDim.x, s);
    for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x, w.next()) {
      const int64_t at = w.n * plane_stride + w.j;
      const double g = double(gc[at]);
      sum_g += g;
      sum_g_xm += g * (double(xc[at]) - m);
    }
    sum_g = cuda::block_sum(sum_g, scratch);
    sum_g_xm = cuda::block_sum(sum_g_xm, scratch);
    if (threadIdx.x == 0) {
      part[2 * b] = sum_g;
      part[2 * b + 1] = sum_g_xm;
    }
  }
}

// Pass 2 of the backward, a thread per channel: adds its parts in order and, with
// M = count values, xhat = (x - mean) invstd and w = weight (or 1), writes
//   dbias = sum(dy),  dweight = invstd sum(dy (x - mean))   (each when not nullptr),
//   coef (3, C) of T: a = w invstd, b = invstd dweight / M, k = dbias / M,
// the factors of dx = a ((dy - k) - (x - mean) b) (the derivation is at
// batch_norm_backward_cpu). part is nullptr with parts == 0: every sum is 0.
template <typename T>
__global__ void batch_norm_backward_coef_kernel1(T* coef, T* dweight, T* dbias, const double* part, const T* invstd,
                                                 const T* weight, int64_t c, int64_t count, int64_t parts) {
  for (int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; ch < c; ch += int64_t(gridDim.x) * blockDim.x) {
    double sum_dy = 0, sum_dy_xm = 0;
    for (int64_t p = 0; p < parts; ++p) {
      sum_dy += part[2 * (ch * parts + p)];
      sum_dy_xm += part[2 * (ch * parts + p) + 1];
    }
    const double inv = double(invstd[ch]), w = weight ? double(weight[ch]) : 1.0;
    const double sum_dy_xhat = inv * sum_dy_xm;
    if (dweight) dweight[ch] = T(sum_dy_xhat);
    if (dbias) dbias[ch] = T(sum_dy);
    coef[ch] = T(w * inv);
    coef[c + ch] = T(inv * sum_dy_xhat / double(count));
    coef[2 * c + ch] = T(sum_dy / double(count));
  }
}

// dx, dy, x: (N, C, S) as numel values; mean: (C); coef: (3, C) from pass 2.
//   training: dx = a ((dy - k) - (x - mean) b)   (the batch statistics' terms included)
//   eval:     dx = dy a                          (mean and invstd are constants)
// The large factor a (up to 1 / sqrt(eps)) last, as on the CPU. Grid-stride.
template <typename T, bool kTraining>
__global__ void batch_norm_backward_input_kernel1(T* dx, const T* dy, const T* x, const T* mean, const T* coef,
                                                  int64_t numel, int64_t c, int64_t s) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  ChannelOf at(first, step, c, s);
  for (int64_t i = first; i < numel; i += step, at.next()) {
    const int64_t ch = at.ch;
    const T a = coef[ch];
    if constexpr (kTraining) {
      dx[i] = a * ((dy[i] - coef[2 * c + ch]) - (x[i] - mean[ch]) * coef[c + ch]);
    } else {
      dx[i] = dy[i] * a;
    }
  }
}

void batch_norm_backward_cuda(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                              const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                              bool training) {
  const int64_t n = x.size(0), c = x.size(1), s = x.size(2), count = n * s, numel = x.numel();
  if (c == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  const cudaStream_t stream = cuda::stream_for(x.device().index);
  // Eval with only dx wanted needs no sums: dx = dy a.
  const bool need_sums = training || dweight.defined() || dbias.defined();
  const ChannelSplit split = need_sums ? split_channels(c, count) : ChannelSplit{0, 0};
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    Tensor part;
    if (split.parts > 0) {
      part = empty({c * split.parts * 2}, TensorOptions(kFloat64).with_device(x.device()));
      const unsigned blocks = unsigned(std::min(c * split.parts, kMaxBlocks));
      batch_norm_backward_parts_kernel1<T><<<blocks, kThreads, 0, stream>>>(
          part.data_ptr<double>(), dy.data_ptr<T>(), x.data_ptr<T>(), mean.data_ptr<T>(), c, s, count, split.parts,
          split.len);
      cuda::check_launch("batch_norm backward sums (cuda)");
    }
    Tensor coef = empty({3 * c}, options_of(x));
    const unsigned blocks = unsigned(std::min((c + kThreads - 1) / kThreads, kMaxBlocks));
    batch_norm_backward_coef_kernel1<T><<<blocks, kThreads, 0, stream>>>(
        coef.data_ptr<T>(), dweight.defined() ? dweight.data_ptr<T>() : nullptr,
        dbias.defined() ? dbias.data_ptr<T>() : nullptr, part.defined() ? part.data_ptr<double>() : nullptr,
        invstd.data_ptr<T>(), weight.defined() ? weight.data_ptr<T>() : nullptr, c, count, split.parts);
    cuda::check_launch("batch_norm backward coefficients (cuda)");
    if (!dx.defined() || numel == 0) return;
    T* dxp = dx.data_ptr<T>();
    const T *gp = dy.data_ptr<T>(), *xp = x.data_ptr<T>(), *mp = mean.data_ptr<T>(), *cp = coef.data_ptr<T>();
    if (training) {
      batch_norm_backward_input_kernel1<T, true><<<elementwise_blocks(numel), kThreads, 0, stream>>>(dxp, gp, xp, mp,
                                                                                                    cp, numel, c, s);
    } else {
      batch_norm_backward_input_kernel1<T, false><<<elementwise_blocks(numel), kThreads, 0, stream>>>(dxp, gp, xp, mp,
                                                                                                     cp, numel, c, s);
    }
    cuda::check_launch("batch_norm backward (cuda)");
  });
}

}  // namespace

KILN_REGISTER_KERNEL(batch_norm_stats_stub, DeviceType::CUDA, batch_norm_stats_cuda);
KILN_REGISTER_KERNEL(batch_norm_stub, DeviceType::CUDA, batch_norm_cuda);
KILN_REGISTER_KERNEL(batch_norm_backward_stub, DeviceType::CUDA, batch_norm_backward_cuda);

}  // namespace kiln
