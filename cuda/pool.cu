// CUDA kernels of max pooling (ops/pool.h, contract in ops/kernels/pool.h), the device
// twins of ops/cpu/pool.cpp. The forward gives each window a thread. The backward gives
// each input pixel a thread that sums the gradients of the windows whose index names it,
// in the CPU's window order: no atomics, and the same sums as the CPU.
#include <cstdint>
#include <limits>

#include "core/dtype.h"
#include "core/tensor.h"
#include "cuda/math.cuh"
#include "cuda/runtime.h"
#include "ops/kernels/pool.h"

namespace kiln {

namespace {

// y, indices: (planes, out_h, out_w); a thread per window e = (plane * out_h + oy) * out_w + ox.
// neg_inf is -infinity in T's opmath type (built on the host).
template <typename T>
__global__ void max_pool2d_kernel1(T* y, int64_t* indices, const T* x, int64_t total, Im2colGeometry g,
                                   opmath_t<T> neg_inf) {
  using Op = opmath_t<T>;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = e % g.out_w, oy = (e / g.out_w) % g.out_h, plane = e / (g.out_w * g.out_h);
    const T* img = x + plane * g.h * g.w;
    const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
    Op best = neg_inf;
    int64_t best_index = -1;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = y0 + i * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ix = x0 + j * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        const int64_t index = iy * g.w + ix;
        if (best_index < 0) best_index = index;  // the index when nothing beats -inf, as on the CPU
        const Op v = Op(img[index]);
        // A later NaN replaces an earlier one, as on the CPU.
        if (v > best || cuda::math::is_nan(v)) best = v, best_index = index;
      }
    }
    y[e] = T(best);
    indices[e] = best_index;
  }
}

void max_pool2d_cuda(const Tensor& y, const Tensor& indices, const Tensor& x, const Im2colGeometry& g) {
  const int64_t total = y.numel();
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_floating_and_half(x.dtype(), "max_pool2d", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    max_pool2d_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        y.data_ptr<T>(), indices.data_ptr<int64_t>(), x.data_ptr<T>(), total, g,
        -std::numeric_limits<opmath_t<T>>::infinity());
  });
  cuda::check_launch("max_pool2d (cuda)");
}

// dx: (planes, H, W), zero on entry; a thread per pixel. The windows that can hold pixel
// (py, px) through tap (i, j) start at py + ph - i dh; visiting i and j downwards visits
// them in increasing (oy, ox), the order in which the CPU adds them.
template <typename T>
__global__ void max_pool2d_backward_kernel1(T* dx, const T* dy, const int64_t* indices, int64_t total,
                                            Im2colGeometry g) {
  using Op = opmath_t<T>;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pixel = e % (g.h * g.w), plane = e / (g.h * g.w);
    const int64_t py = pixel / g.w, px = pixel % g.w;
    const int64_t base = plane * g.out_h * g.out_w;
    Op acc = Op(dx[e]);
    for (int64_t i = g.kh - 1; i >= 0; --i) {
      const int64_t oy = position_of(py + g.ph - i * g.dh, g.sh, g.out_h);
      if (oy < 0) continue;
      for (int64_t j = g.kw - 1; j >= 0; --j) {
        const int64_t ox = position_of(px + g.pw - j * g.dw, g.sw, g.out_w);
        if (ox < 0) continue;
        const int64_t w = base + oy * g.out_w + ox;
        if (indices[w] == pixel) acc += Op(dy[w]);
      }
    }
    dx[e] = T(acc);
  }
}

void max_pool2d_backward_cuda(const Tensor& dx, const Tensor& dy, const Tensor& indices, const Im2colGeometry& g) {
  const int64_t total = dx.numel();
  if (total == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(dx.device().index));
  dispatch_floating_and_half(dx.dtype(), "max_pool2d", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    max_pool2d_backward_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(dx.device().index)>>>(
        dx.data_ptr<T>(), dy.data_ptr<T>(), indices.data_ptr<int64_t>(), total, g);
  });
  cuda::check_launch("max_pool2d backward (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(max_pool2d_stub, DeviceType::CUDA, max_pool2d_cuda);
KILN_REGISTER_KERNEL(max_pool2d_backward_stub, DeviceType::CUDA, max_pool2d_backward_cuda);

}  // namespace kiln
