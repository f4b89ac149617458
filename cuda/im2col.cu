// CUDA kernels of im2col / col2im (ops/im2col.cpp), the device twins of
// ops/cpu/im2col.cpp: im2col writes one column entry per thread; col2im gives each
// input pixel a thread that sums the entries read from it, so it needs no atomics.
// Either column layout of Note [Column layouts] (ops/kernels/im2col.h): image n's row r
// starts at n * col_n + r * col_r.
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/im2col.h"

namespace kiln {

namespace {

// x: (planes, H, W) -> cols: (N, C * kh * kw, out_h * out_w), a thread per cols entry
// e = (((plane * kh + i) * kw + j) * out_h + oy) * out_w + ox, plane = n * C + c.
template <typename T>
__global__ void im2col_kernel1(T* cols, const T* x, int64_t total, Im2colGeometry g, int64_t col_n, int64_t col_r) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t t = e;
    const int64_t ox = t % g.out_w;
    t /= g.out_w;
    const int64_t oy = t % g.out_h;
    t /= g.out_h;
    const int64_t j = t % g.kw;
    t /= g.kw;
    const int64_t i = t % g.kh, plane = t / g.kh;
    const int64_t iy = oy * g.sh - g.ph + i * g.dh, ix = ox * g.sw - g.pw + j * g.dw;
    const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
    const int64_t n = plane / g.channels, row = (plane % g.channels * g.kh + i) * g.kw + j;
    cols[n * col_n + row * col_r + oy * g.out_w + ox] = inside ? x[(plane * g.h + iy) * g.w + ix] : T(0);
  }
}

void im2col_forward_cuda(const Tensor& cols, const Tensor& x, const IntList& kernel, const IntList& dilation,
                         const IntList& padding, const IntList& stride) {
  const Im2colGeometry g = im2col_geometry(x.shape(), kernel, dilation, padding, stride);
  const int64_t total = cols.numel();
  if (total == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_floating_and_half(x.dtype(), "im2col", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    im2col_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        cols.data_ptr<T>(), x.data_ptr<T>(), total, g, cols.stride(0), cols.stride(1));
  });
  cuda::check_launch("im2col (cuda)");
}

// cols: (N, C * kh * kw, out_h * out_w) -> x: (planes, H, W), a thread per pixel,
// summing its entries in the CPU's order (i, then j), so the sums match it exactly.
// x is zero on entry; every pixel is written.
template <typename T>
__global__ void col2im_kernel1(T* x, const T* cols, int64_t total, Im2colGeometry g, int64_t col_n, int64_t col_r) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t px = e % g.w, py = (e / g.w) % g.h, plane = e / (g.w * g.h);
    const T* base = cols + plane / g.channels * col_n + plane % g.channels * g.kh * g.kw * col_r;
    T acc = x[e];
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t oy = position_of(py + g.ph - i * g.dh, g.sh, g.out_h);
      if (oy < 0) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ox = position_of(px + g.pw - j * g.dw, g.sw, g.out_w);
        if (ox < 0) continue;
        acc += base[(i * g.kw + j) * col_r + oy * g.out_w + ox];
      }
    }
    x[e] = acc;
  }
}

void col2im_forward_cuda(const Tensor& x, const Tensor& cols, const IntList& kernel, const IntList& dilation,
                         const IntList& padding, const IntList& stride) {
  const Im2colGeometry g = im2col_geometry(x.shape(), kernel, dilation, padding, stride);
  const int64_t total = x.numel();
  if (total == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_floating_and_half(x.dtype(), "col2im", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    col2im_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        x.data_ptr<T>(), cols.data_ptr<T>(), total, g, cols.stride(0), cols.stride(1));
  });
  cuda::check_launch("col2im (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(im2col_stub, DeviceType::CUDA, im2col_forward_cuda);
KILN_REGISTER_KERNEL(col2im_stub, DeviceType::CUDA, col2im_forward_cuda);

}  // namespace kiln
