// The CUDA elementwise iterator: one strided, broadcasting launcher that every CUDA
// elementwise kernel (cuda/unary.cu, cuda/binary.cu) is written on, so a new op is one
// functor. The CPU twin is ops/cpu/loops.h. See Note [CUDA elementwise loops].
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "core/tensor.h"
#include "cuda/runtime.h"

namespace kiln::cuda {

// Note [CUDA elementwise loops]
// out (operand 0) and the inputs are walked together over out's shape, as on the CPU
// (Note [Elementwise loops] in ops/cpu/loops.h): the inputs' strides are broadcast to
// out's shape (stride 0 on a broadcast dim), size-1 dims are dropped and neighbouring
// dims merged where every operand steps through them as one. Then:
//   - contiguous: every operand is one dense run (no broadcasting). Each thread takes
//     packs of kVec = 4 neighbouring elements with one vector load per operand (a
//     float4 for float32) when every pointer is aligned to its pack; the n % 4 tail
//     and misaligned operands go element by element;
//   - strided: each thread turns its flat index i into byte offsets, dim by dim from
//     the innermost: k_d = i % size_d, i /= size_d, off += k_d * stride_d.
// Indices are 64-bit throughout, and both kernels loop grid-stride, so any numel works
// with a capped grid. The functor is a plain struct with a __device__ operator()
// (nvcc's extended lambdas need a flag the build does not set).
constexpr int kMaxDims = 12;
constexpr int kVec = 4;

// Sizes (merged, innermost last) and byte strides per operand, passed by value.
template <int N>
struct OffsetCalc {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims][N] = {};  // bytes
};

template <int N>
struct Operands {
  char* ptr[N];
};

// Broadcasts, drops size-1 dims and merges; false when the result has more than
// kMaxDims dims (never for tensors up to kMaxDims dims).
template <int N>
bool make_offset_calc(const std::array<const Tensor*, N>& ops, OffsetCalc<N>& calc) {
  const Shape& shape = ops[0]->shape();
  std::array<IntList, N> st;
  for (int k = 0; k < N; ++k) st[size_t(k)] = broadcast_strides(ops[size_t(k)]->shape(), ops[size_t(k)]->strides(), shape);
  calc.ndim = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    int64_t s[N];
    for (int k = 0; k < N; ++k) s[k] = st[size_t(k)][d] * int64_t(element_size(ops[size_t(k)]->dtype()));
    if (calc.ndim > 0) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k) mergeable = mergeable && calc.strides[calc.ndim - 1][k] == s[k] * shape[d];
      if (mergeable) {
        calc.sizes[calc.ndim - 1] *= shape[d];
        for (int k = 0; k < N; ++k) calc.strides[calc.ndim - 1][k] = s[k];
        continue;
      }
    }
    if (calc.ndim == kMaxDims) return false;
    calc.sizes[calc.ndim] = shape[d];
    for (int k = 0; k < N; ++k) calc.strides[calc.ndim][k] = s[k];
    ++calc.ndim;
  }
  return true;
}

// kVec neighbouring elements, loaded and stored as one aligned vector.
template <typename T>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

namespace detail {

template <typename R, typename... A, typename F, size_t... I>
__device__ void apply_strided(const Operands<sizeof...(A) + 1>& p, const int64_t* off, const F& f,
                              std::index_sequence<I...>) {
  *reinterpret_cast<R*>(p.ptr[0] + off[0]) = f(*reinterpret_cast<const A*>(p.ptr[I + 1] + off[I + 1])...);
}

template <typename R, typename... A, typename F>
__device__ void apply_pack(Pack<R>* out, const F& f, const Pack<A>... in) {
  Pack<R> r;
#pragma unroll
  for (int j = 0; j < kVec; ++j) r.v[j] = f(in.v[j]...);
  *out = r;
}

}  // namespace detail

// out[i] = f(in...[i]) for n elements, all operands dense. vectorised: every pointer is
// aligned to its Pack, so elements [0, n / kVec * kVec) go as packs.
template <typename R, typename F, typename... A>
__global__ void elementwise_contiguous_kernel(int64_t n, bool vectorised, F f, R* out, const A*... in) {
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if (vectorised) {
    const int64_t packs = n / kVec;
    for (int64_t i = tid; i < packs; i += step)
      detail::apply_pack<R, A...>(reinterpret_cast<Pack<R>*>(out) + i, f, reinterpret_cast<const Pack<A>*>(in)[i]...);
    done = packs * kVec;
  }
  for (int64_t i = done + tid; i < n; i += step) out[i] = f(in[i]...);
}

// out[i] = f(in...[i]) over any strides (byte offsets from calc).
template <typename R, typename F, typename... A>
__global__ void elementwise_strided_kernel(int64_t n, OffsetCalc<sizeof...(A) + 1> calc,
                                           Operands<sizeof...(A) + 1> p, F f) {
  constexpr int N = int(sizeof...(A)) + 1;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[N] = {};
    int64_t rem = i;
    for (int d = calc.ndim - 1; d >= 0; --d) {
      int64_t k = rem % calc.sizes[d];
      rem /= calc.sizes[d];
      for (int o = 0; o < N; ++o) off[o] += k * calc.strides[d][o];
    }
    detail::apply_strided<R, A...>(p, off, f, std::index_sequence_for<A...>{});
  }
}

inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// out[i] = f(in_0[i], in_1[i], ...) over out's shape on out's device, inputs broadcast
// to it. R and A... are the element types of out and the inputs (the caller has checked
// the dtypes), e.g. elementwise<float, float, float>(out, AddOp<float>{}, a, b).
template <typename R, typename... A, typename F>
void elementwise(const Tensor& out, F f, const std::conditional_t<true, Tensor, A>&... in) {
  constexpr int N = int(sizeof...(A)) + 1;
  const int64_t n = out.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(out.device().index));
  const cudaStream_t stream = stream_for(out.device().index);
  OffsetCalc<N> calc;
  KILN_CHECK(make_offset_calc<N>({&out, &in...}, calc), "elementwise (cuda): at most ", kMaxDims,
             " dims after merging are supported, got ", out.meta_str());
  // Dense: one merged dim (or a single element) stepping one element at a time.
  bool contiguous = calc.ndim == 0;
  if (calc.ndim == 1) {
    contiguous = calc.strides[0][0] == int64_t(sizeof(R));
    int k = 1;
    ((contiguous = contiguous && calc.strides[0][k++] == int64_t(sizeof(A))), ...);
  }
  if (contiguous) {
    R* o = static_cast<R*>(out.raw_data());
    bool vectorised = aligned_to(o, sizeof(Pack<R>)) && (aligned_to(in.raw_data(), sizeof(Pack<A>)) && ...);
    auto cfg = launch_config_1d(vectorised ? (n + kVec - 1) / kVec : n);
    elementwise_contiguous_kernel<R, F, A...><<<cfg.blocks, cfg.threads, 0, stream>>>(
        n, vectorised, f, o, static_cast<const A*>(in.raw_data())...);
  } else {
    Operands<N> p{{static_cast<char*>(out.raw_data()), static_cast<char*>(in.raw_data())...}};
    auto cfg = launch_config_1d(n);
    elementwise_strided_kernel<R, F, A...><<<cfg.blocks, cfg.threads, 0, stream>>>(n, calc, p, f);
  }
  check_launch("elementwise (cuda)");
}

}  // namespace kiln::cuda
