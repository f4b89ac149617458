// CUDA kernels of the indexing family (ops/index.cpp), the device twins of
// ops/cpu/index.cpp: index_select/index_add, gather/scatter_add, reflect padding and its
// backward, embedding and its backward, one_hot, tril/triu. One thread per element,
// grid-stride, 64-bit indices; the accumulating kernels add with atomicAdd (so float
// sums may come out in a different order than the CPU's). The op validated every index.
#include <algorithm>
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/index.h"

namespace kiln {

namespace {

constexpr int kMaxDims = 12;

// atomicAdd for the dtypes of dispatch_numeric (double needs sm_60+). int64 adds as
// unsigned 64-bit: two's complement makes the bits the same.
__device__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

int64_t prod(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t d = begin; d < end; ++d) n *= shape[d];
  return n;
}

// ---- index_select, index_add ----

// x: (outer, size, inner), index: (n) -> out: (outer, n, inner); out[o, k, j] = x[o, index[k], j].
template <typename T>
__global__ void index_select_kernel1(T* out, const T* x, const int64_t* index, int64_t total, int64_t n, int64_t size,
                                     int64_t inner) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % inner, r = e / inner, k = r % n, o = r / n;
    out[e] = x[(o * size + index[k]) * inner + j];
  }
}

void index_select_forward_cuda(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const Shape& s = x.shape();
  const int64_t size = s[size_t(dim)], inner = prod(s, size_t(dim) + 1, s.size()), total = out.numel();
  if (total == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_all(x.dtype(), [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    index_select_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        out.data_ptr<T>(), x.data_ptr<T>(), index.data_ptr<int64_t>(), total, index.numel(), size, inner);
  });
  cuda::check_launch("index_select (cuda)");
}

// out: (outer, size, inner), src: (outer, n, inner), index: (n);
// out[o, index[k], j] += src[o, k, j], one thread per src element.
template <typename T>
__global__ void index_add_kernel1(T* out, const T* src, const int64_t* index, int64_t total, int64_t n, int64_t size,
                                  int64_t inner) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % inner, r = e / inner, k = r % n, o = r / n;
    atomic_add(out + (o * size + index[k]) * inner + j, src[e]);
  }
}

void index_add_forward_cuda(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const Shape& s = out.shape();
  const int64_t size = s[size_t(dim)], inner = prod(s, size_t(dim) + 1, s.size()), total = src.numel();
  if (total == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(out.device().index));
  dispatch_numeric(out.dtype(), "index_add", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    index_add_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(out.device().index)>>>(
        out.data_ptr<T>(), src.data_ptr<T>(), index.data_ptr<int64_t>(), total, index.numel(), size, inner);
  });
  cuda::check_launch("index_add (cuda)");
}

// ---- gather, scatter_add ----

// The index's shape and the element strides of the two other tensors, walked together.
struct IndexWalk {
  int ndim;
  int dim;
  int64_t sizes[kMaxDims];
  int64_t a_strides[kMaxDims];  // gather: x; scatter_add: out
  int64_t b_strides[kMaxDims];  // scatter_add: src
};

IndexWalk make_walk(const Tensor& index, int64_t dim, const Tensor& a, const Tensor* b, const char* op) {
  KILN_CHECK(index.dim() <= kMaxDims, op, " (cuda): at most ", kMaxDims, " dims are supported, got ",
             index.meta_str());
  IndexWalk w{};
  w.ndim = int(index.dim());
  w.dim = int(dim);
  for (int d = 0; d < w.ndim; ++d) {
    w.sizes[d] = index.shape()[size_t(d)];
    w.a_strides[d] = a.strides()[size_t(d)];
    w.b_strides[d] = b ? b->strides()[size_t(d)] : 0;
  }
  return w;
}

// index, out: the index's shape, contiguous; x: any strides.
// out[p] = x[p with its coordinate in dim replaced by index[p]].
template <typename T>
__global__ void gather_kernel1(T* out, const T* x, const int64_t* index, int64_t total, IndexWalk w) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = e, off = 0;
    for (int d = w.ndim - 1; d >= 0; --d) {
      const int64_t k = rem % w.sizes[d];
      rem /= w.sizes[d];
      off += (d == w.dim ? index[e] : k) * w.a_strides[d];
    }
    out[e] = x[off];
  }
}

void gather_forward_cuda(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t total = index.numel();
  if (total == 0) return;
  const IndexWalk w = make_walk(index, dim, x, nullptr, "gather");
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_all(x.dtype(), [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    gather_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        out.data_ptr<T>(), x.data_ptr<T>(), index.data_ptr<int64_t>(), total, w);
  });
  cuda::check_launch("gather (cuda)");
}

// index contiguous; out, src: any strides, src at least the index's size in every dim.
// out[p with dim's coordinate replaced by index[p]] += src[p].
template <typename T>
__global__ void scatter_add_kernel1(T* out, const T* src, const int64_t* index, int64_t total, IndexWalk w) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = e, out_off = 0, src_off = 0;
    for (int d = w.ndim - 1; d >= 0; --d) {
      const int64_t k = rem % w.sizes[d];
      rem /= w.sizes[d];
      out_off += (d == w.dim ? index[e] : k) * w.a_strides[d];
      src_off += k * w.b_strides[d];
    }
    atomic_add(out + out_off, src[src_off]);
  }
}

void scatter_add_forward_cuda(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t total = index.numel();
  if (total == 0) return;
  const IndexWalk w = make_walk(index, dim, out, &src, "scatter_add");
  KILN_CUDA_CHECK(cudaSetDevice(out.device().index));
  dispatch_numeric(out.dtype(), "scatter_add", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    scatter_add_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(out.device().index)>>>(
        out.data_ptr<T>(), src.data_ptr<T>(), index.data_ptr<int64_t>(), total, w);
  });
  cuda::check_launch("scatter_add (cuda)");
}

// ---- reflect padding (Note [Reflect padding] in ops/cpu/index.cpp) ----

// The k padded last dims: input and output sizes, the pad in front, and the input's
// contiguous strides within one plane.
struct ReflectGeometry {
  int k;
  int64_t in_plane, out_plane;
  int64_t in_sizes[kMaxDims], out_sizes[kMaxDims], before[kMaxDims], in_strides[kMaxDims];
};

ReflectGeometry reflect_geometry(const Shape& in_shape, const Shape& out_shape, const IntList& before) {
  const size_t k = before.size(), lead = in_shape.size() - k;
  KILN_CHECK(k <= size_t(kMaxDims), "pad (cuda): at most ", kMaxDims, " padded dims are supported, got ", k);
  ReflectGeometry g{};
  g.k = int(k);
  g.in_plane = prod(in_shape, lead, in_shape.size());
  g.out_plane = prod(out_shape, lead, out_shape.size());
  int64_t stride = 1;
  for (size_t d = k; d-- > 0;) {
    g.in_sizes[d] = in_shape[lead + d];
    g.out_sizes[d] = out_shape[lead + d];
    g.before[d] = before[d];
    g.in_strides[d] = stride;
    stride *= g.in_sizes[d];
  }
  return g;
}

// The input offset within a plane that output position `pos` (within its plane) reads:
// per dim i = o - before, mirrored as i < 0 -> -i, i >= n -> 2 (n - 1) - i.
__device__ int64_t reflect_source(const ReflectGeometry& g, int64_t pos) {
  int64_t off = 0;
  for (int d = g.k - 1; d >= 0; --d) {
    const int64_t o = pos % g.out_sizes[d];
    pos /= g.out_sizes[d];
    int64_t i = o - g.before[d];
    if (i < 0) i = -i;
    if (i >= g.in_sizes[d]) i = 2 * (g.in_sizes[d] - 1) - i;
    off += i * g.in_strides[d];
  }
  return off;
}

// x: (B, in...) -> out: (B, out...), both contiguous; a thread per output element.
template <typename T>
__global__ void reflect_pad_kernel1(T* out, const T* x, int64_t total, ReflectGeometry g) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = e / g.out_plane, pos = e % g.out_plane;
    out[e] = x[b * g.in_plane + reflect_source(g, pos)];
  }
}

void reflect_pad_forward_cuda(const Tensor& out, const Tensor& x, const IntList& before) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const ReflectGeometry g = reflect_geometry(x.shape(), out.shape(), before);
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_all(x.dtype(), [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    reflect_pad_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        out.data_ptr<T>(), x.data_ptr<T>(), total, g);
  });
  cuda::check_launch("pad (cuda)");
}

// g: (B, out...) contiguous, dx: (B, in...) zero on entry; dx[source(o)] += g[o]. Several
// outputs read one input, hence the atomics.
template <typename T>
__global__ void reflect_pad_backward_kernel1(T* dx, const T* g, int64_t total, ReflectGeometry geo) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = e / geo.out_plane, pos = e % geo.out_plane;
    atomic_add(dx + b * geo.in_plane + reflect_source(geo, pos), g[e]);
  }
}

void reflect_pad_backward_cuda(const Tensor& dx, const Tensor& g, const IntList& before) {
  const int64_t total = g.numel();
  if (total == 0) return;
  const ReflectGeometry geo = reflect_geometry(dx.shape(), g.shape(), before);
  KILN_CUDA_CHECK(cudaSetDevice(g.device().index));
  dispatch_floating(g.dtype(), "pad_backward", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    reflect_pad_backward_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(g.device().index)>>>(
        dx.data_ptr<T>(), g.data_ptr<T>(), total, geo);
  });
  cuda::check_launch("pad_backward (cuda)");
}

// ---- embedding, one_hot ----

// weight: (V, D), indices: (n) -> out: (n, D); out[k, j] = weight[indices[k], j].
template <typename T>
__global__ void embedding_kernel1(T* out, const T* weight, const int64_t* indices, int64_t total, int64_t dim) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = e / dim, j = e % dim;
    out[e] = weight[indices[k] * dim + j];
  }
}

void embedding_forward_cuda(const Tensor& out, const Tensor& weight, const Tensor& indices) {
  const int64_t total = out.numel(), dim = weight.shape()[1];
  if (total == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(weight.device().index));
  dispatch_all(weight.dtype(), [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    embedding_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(weight.device().index)>>>(
        out.data_ptr<T>(), weight.data_ptr<T>(), indices.data_ptr<int64_t>(), total, dim);
  });
  cuda::check_launch("embedding (cuda)");
}

// g: (n, D), indices: (n) -> dweight: (V, D), zero on entry;
// dweight[indices[k], j] += g[k, j] unless indices[k] == padding_idx.
template <typename T>
__global__ void embedding_backward_kernel1(T* dweight, const T* g, const int64_t* indices, int64_t total, int64_t dim,
                                           int64_t padding_idx) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = e / dim, j = e % dim, row = indices[k];
    if (row == padding_idx) continue;
    atomic_add(dweight + row * dim + j, g[e]);
  }
}

void embedding_backward_cuda(const Tensor& dweight, const Tensor& g, const Tensor& indices, int64_t padding_idx) {
  const int64_t dim = dweight.shape()[1], total = indices.numel() * dim;
  if (total == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(g.device().index));
  dispatch_floating(g.dtype(), "embedding_backward", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    embedding_backward_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(g.device().index)>>>(
        dweight.data_ptr<T>(), g.data_ptr<T>(), indices.data_ptr<int64_t>(), total, dim, padding_idx);
  });
  cuda::check_launch("embedding_backward (cuda)");
}

// indices: (n) -> out: (n, C) int64, zero on entry; out[k, indices[k]] = 1.
__global__ void one_hot_kernel1(int64_t* out, const int64_t* indices, int64_t n, int64_t classes) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x)
    out[k * classes + indices[k]] = 1;
}

void one_hot_forward_cuda(const Tensor& out, const Tensor& indices) {
  const int64_t n = indices.numel(), classes = out.shape().back();
  if (n == 0 || classes == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(out.device().index));
  const auto cfg = cuda::launch_config_1d(n);
  one_hot_kernel1<<<cfg.blocks, cfg.threads, 0, cuda::stream_for(out.device().index)>>>(
      out.data_ptr<int64_t>(), indices.data_ptr<int64_t>(), n, classes);
  cuda::check_launch("one_hot (cuda)");
}

// ---- tril, triu ----

// x, out: (B, R, C) contiguous. Keeps x[b, i, j] where j - i <= diagonal (lower) or
// j - i >= diagonal (upper): columns j < split = clamp(i + diagonal (+1 for lower), 0, C)
// are kept by tril and zeroed by triu.
template <typename T, bool kUpper>
__global__ void triangle_kernel1(T* out, const T* x, int64_t total, int64_t rows, int64_t cols, int64_t diagonal) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % cols, i = (e / cols) % rows;
    int64_t split = i + diagonal + (kUpper ? 0 : 1);
    split = split < 0 ? 0 : (split > cols ? cols : split);
    out[e] = ((j < split) != kUpper) ? x[e] : T(0);
  }
}

template <bool kUpper>
void triangle_forward_cuda(const Tensor& out, const Tensor& x, int64_t diagonal) {
  const Shape& s = x.shape();
  const int64_t total = x.numel();
  if (total == 0) return;
  const int64_t rows = s[s.size() - 2], cols = s.back();
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_all(x.dtype(), [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(total);
    triangle_kernel1<T, kUpper><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        out.data_ptr<T>(), x.data_ptr<T>(), total, rows, cols, diagonal);
  });
  cuda::check_launch(kUpper ? "triu (cuda)" : "tril (cuda)");
}

void tril_forward_cuda(const Tensor& out, const Tensor& x, int64_t diagonal) {
  triangle_forward_cuda<false>(out, x, diagonal);
}
void triu_forward_cuda(const Tensor& out, const Tensor& x, int64_t diagonal) {
  triangle_forward_cuda<true>(out, x, diagonal);
}

}  // namespace

KILN_REGISTER_KERNEL(index_select_stub, DeviceType::CUDA, index_select_forward_cuda);
KILN_REGISTER_KERNEL(index_add_stub, DeviceType::CUDA, index_add_forward_cuda);
KILN_REGISTER_KERNEL(gather_stub, DeviceType::CUDA, gather_forward_cuda);
KILN_REGISTER_KERNEL(scatter_add_stub, DeviceType::CUDA, scatter_add_forward_cuda);
KILN_REGISTER_KERNEL(reflect_pad_stub, DeviceType::CUDA, reflect_pad_forward_cuda);
KILN_REGISTER_KERNEL(reflect_pad_backward_stub, DeviceType::CUDA, reflect_pad_backward_cuda);
KILN_REGISTER_KERNEL(embedding_stub, DeviceType::CUDA, embedding_forward_cuda);
KILN_REGISTER_KERNEL(embedding_backward_stub, DeviceType::CUDA, embedding_backward_cuda);
KILN_REGISTER_KERNEL(one_hot_stub, DeviceType::CUDA, one_hot_forward_cuda);
KILN_REGISTER_KERNEL(tril_stub, DeviceType::CUDA, tril_forward_cuda);
KILN_REGISTER_KERNEL(triu_stub, DeviceType::CUDA, triu_forward_cuda);

}  // namespace kiln
