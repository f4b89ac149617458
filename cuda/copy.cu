// CUDA kernels for fill and copy (dtype conversion, broadcasting, any strides): the
// first users of kiln's CUDA elementwise indexing. Registered into the same stubs as
// the CPU kernels in ops/cpu/copy.cpp.
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/view.h"

namespace kiln {

namespace {

constexpr int kMaxDims = 12;

// Sizes and element strides of up to kMaxDims dims, passed by value to kernels.
struct StridedIndex {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t dst_strides[kMaxDims];
  int64_t src_strides[kMaxDims];
};

// dst: any strides; v: the fill value in dst's type.
template <typename T>
__global__ void fill_kernel1(T* dst, StridedIndex ix, int64_t n, T v) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    for (int d = ix.ndim - 1; d >= 0; --d) {
      off += (rem % ix.sizes[d]) * ix.dst_strides[d];
      rem /= ix.sizes[d];
    }
    dst[off] = v;
  }
}

// dst, src: same logical shape (src broadcast with stride 0), any strides; converts S -> D.
template <typename D, typename S>
__global__ void copy_kernel1(D* dst, const S* src, StridedIndex ix, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, doff = 0, soff = 0;
    for (int d = ix.ndim - 1; d >= 0; --d) {
      int64_t k = rem % ix.sizes[d];
      rem /= ix.sizes[d];
      doff += k * ix.dst_strides[d];
      soff += k * ix.src_strides[d];
    }
    dst[doff] = static_cast<D>(src[soff]);
  }
}

StridedIndex make_index(const Tensor& dst, const Tensor* src) {
  KILN_CHECK(dst.dim() <= kMaxDims, "copy (cuda): at most ", kMaxDims, " dims are supported, got ", dst.meta_str());
  StridedIndex ix{};
  ix.ndim = int(dst.dim());
  IntList s = src ? broadcast_strides(src->shape(), src->strides(), dst.shape()) : IntList();
  for (int d = 0; d < ix.ndim; ++d) {
    ix.sizes[d] = dst.shape()[size_t(d)];
    ix.dst_strides[d] = dst.strides()[size_t(d)];
    ix.src_strides[d] = src ? s[size_t(d)] : 0;
  }
  return ix;
}

void fill_forward_cuda(const Tensor& dst, double value) {
  int64_t n = dst.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(dst.device().index));
  auto cfg = cuda::launch_config_1d(n);
  StridedIndex ix = make_index(dst, nullptr);
  dispatch_all(dst.dtype(), [&]<typename T>() {
    fill_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(dst.device().index)>>>(
        static_cast<T*>(dst.raw_data()), ix, n, static_cast<T>(value));
  });
  KILN_CUDA_CHECK(cudaGetLastError());
}

void copy_forward_cuda(const Tensor& dst, const Tensor& src) {
  int64_t n = dst.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(dst.device().index));
  auto cfg = cuda::launch_config_1d(n);
  StridedIndex ix = make_index(dst, &src);
  dispatch_all(dst.dtype(), [&]<typename D>() {
    dispatch_all(src.dtype(), [&]<typename S>() {
      copy_kernel1<D, S><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(dst.device().index)>>>(
          static_cast<D*>(dst.raw_data()), static_cast<const S*>(src.raw_data()), ix, n);
    });
  });
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

KILN_REGISTER_KERNEL(copy_stub, DeviceType::CUDA, copy_forward_cuda);
KILN_REGISTER_KERNEL(fill_stub, DeviceType::CUDA, fill_forward_cuda);

}  // namespace kiln
