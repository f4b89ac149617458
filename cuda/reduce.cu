// CUDA kernels of the reductions (ops/reduce.cpp): sum (and mean), prod, var, norm,
// amax/amin, max/min with indices, all/any. x: (outer, reduced, inner) contiguous,
// out: (outer, inner). The accumulators are the CPU's (ops/kernels/reduce_acc.h, Note
// [Reduction accumulators]: float32 sums in double); the launch shape comes from
// launch_config_reduce (cuda/runtime.h). See Note [CUDA reductions].
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/reduce.h"
#include "ops/kernels/reduce_acc.h"

namespace kiln {

namespace {

// Note [CUDA reductions]
// Output j = (o, i) reduces x[o, r, i] over r, element r at x + (o * reduced + r) * inner + i.
//   block per output (reduce_block_kernel1): thread t folds r = t, t + blockDim, ...
//     into its own accumulator, then the block combines them: a warp first (shuffles,
//     lane l takes lane l + 16, l + 8, ...), then the warps' results through shared
//     memory, in warp 0. Used for long rows.
//   thread per output (reduce_thread_kernel1): one thread folds r = 0, 1, ... in order,
//     exactly as the CPU does; neighbouring threads read neighbouring i (coalesced).
// The accumulators are the CPU's, one definition in ops/kernels/reduce_acc.h (see
// Note [Reduction accumulators] there); their starting state (Acc{}, the identity) is
// built on the host and passed to the kernel. A thread's elements are not one
// contiguous range, so ArgExtremumAcc's merge breaks ties by the smaller index, which
// keeps "the first index of the extremum". Sums of float32, float64, float16 and
// bfloat16 accumulate in double (the 16-bit ones round once at the end, as on the CPU).

// An accumulator moved down the warp by `delta` lanes, 32 bits at a time (every
// accumulator is a few trivially copyable fields).
template <typename Acc>
__device__ Acc shfl_down(const Acc& a, unsigned delta) {
  constexpr int kWords = int((sizeof(Acc) + 3) / 4);
  unsigned w[kWords] = {};
  memcpy(w, &a, sizeof(Acc));
#pragma unroll
  for (int k = 0; k < kWords; ++k) w[k] = __shfl_down_sync(0xffffffffu, w[k], delta);
  Acc r;
  memcpy(&r, w, sizeof(Acc));
  return r;
}

// Lane 0 ends with the merge of the warp's 32 accumulators. All 32 lanes must call it.
template <typename Acc>
__device__ Acc warp_reduce(Acc acc) {
#pragma unroll
  for (unsigned delta = 16; delta > 0; delta /= 2) acc.merge(shfl_down(acc, delta));
  return acc;
}

// Thread 0 ends with the merge of the block's accumulators; blockDim.x is a multiple of
// 32 (at most 1024) and every thread of the block must call it.
template <typename Acc>
__device__ Acc block_reduce(Acc acc, const Acc& init) {
  __shared__ double storage[(32 * sizeof(Acc) + sizeof(double) - 1) / sizeof(double)];
  Acc* partial = reinterpret_cast<Acc*>(storage);
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  acc = warp_reduce(acc);
  if (lane == 0) memcpy(&partial[warp], &acc, sizeof(Acc));
  __syncthreads();
  if (warp == 0) {
    Acc v = init;
    if (lane < warps) memcpy(&v, &partial[lane], sizeof(Acc));
    acc = warp_reduce(v);
  }
  __syncthreads();  // `partial` is free again for the block's next output
  return acc;
}

// x: (outer, reduced, inner); a block per output j, grid-stride over the n_out outputs.
template <typename T, typename Acc, typename Write>
__global__ void reduce_block_kernel1(const T* x, int64_t n_out, int64_t reduced, int64_t inner, Acc init,
                                     Write write) {
  for (int64_t j = blockIdx.x; j < n_out; j += gridDim.x) {  // the same j for the whole block
    const T* base = x + (j / inner) * reduced * inner + j % inner;
    Acc acc = init;
    for (int64_t r = threadIdx.x; r < reduced; r += blockDim.x) acc.add(base[r * inner], r);
    acc = block_reduce(acc, init);
    if (threadIdx.x == 0) write(j, acc);
  }
}

// x: (outer, reduced, inner); a thread per output j, grid-stride.
template <typename T, typename Acc, typename Write>
__global__ void reduce_thread_kernel1(const T* x, int64_t n_out, int64_t reduced, int64_t inner, Acc init,
                                      Write write) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n_out; j += int64_t(gridDim.x) * blockDim.x) {
    const T* base = x + (j / inner) * reduced * inner + j % inner;
    Acc acc = init;
    for (int64_t r = 0; r < reduced; ++r) acc.add(base[r * inner], r);
    write(j, acc);
  }
}

// Runs the reduction of x: (outer, reduced, inner) from `init`, calling write(j, acc)
// on the device once per output j of (outer, inner).
template <typename T, typename Acc, typename Write>
void launch_reduce(const Tensor& x, const Acc& init, const Write& write) {
  const int64_t outer = x.size(0), reduced = x.size(1), inner = x.size(2);
  const int64_t n_out = outer * inner;
  if (n_out == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  const cudaStream_t stream = cuda::stream_for(x.device().index);
  const T* data = static_cast<const T*>(x.raw_data());
  const cuda::ReduceLaunch cfg = cuda::launch_config_reduce(outer, reduced, inner);
  if (cfg.block_per_output) {
    reduce_block_kernel1<T, Acc, Write><<<cfg.blocks, cfg.threads, 0, stream>>>(data, n_out, reduced, inner, init, write);
  } else {
    reduce_thread_kernel1<T, Acc, Write><<<cfg.blocks, cfg.threads, 0, stream>>>(data, n_out, reduced, inner, init, write);
  }
  cuda::check_launch("reduce (cuda)");
}

// The writers: turn an output's final accumulator into its value(s).
template <typename T>
struct SumWrite {  // scaled by `scale` (1/N for mean) for floating types; integer sums are exact
  T* out;
  double scale;
  __device__ void operator()(int64_t j, const SumAcc<T>& a) const {
    if constexpr (is_16bit_float_v<T>) {
      out[j] = T(float(a.total * scale));
    } else if constexpr (std::is_floating_point_v<T>) {
      out[j] = T(a.total * scale);
    } else {
      out[j] = T(a.total);
    }
  }
};
template <typename T>
struct ProdWrite {
  T* out;
  __device__ void operator()(int64_t j, const ProdAcc<T>& a) const { out[j] = T(a.total); }
};
template <typename T>
struct VarWrite {  // m2 / (n - correction); no degrees of freedom left gives NaN, as PyTorch
  T* out;
  double correction;
  __device__ void operator()(int64_t j, const VarAcc<T>& a) const {
    out[j] = T(a.variance(correction));
  }
};
template <typename T>
struct NormWrite {
  T* out;
  __device__ void operator()(int64_t j, const NormAcc<T>& a) const { out[j] = T(a.norm()); }
};
template <typename T, bool kMax>
struct ExtremumWrite {
  T* out;
  __device__ void operator()(int64_t j, const ExtremumAcc<T, kMax>& a) const { out[j] = a.best; }
};
template <typename T, bool kMax>
struct ArgExtremumWrite {
  T* values;
  int64_t* indices;
  __device__ void operator()(int64_t j, const ArgExtremumAcc<T, kMax>& a) const {
    values[j] = a.best;
    indices[j] = a.index;
  }
};
template <typename Acc>
struct BoolWrite {
  bool* out;
  __device__ void operator()(int64_t j, const Acc& a) const { out[j] = a.value; }
};

// x: (outer, reduced, inner), out: (outer, inner); out = scale * sum_r x[o, r, i].
void sum_forward_cuda(const Tensor& out, const Tensor& x, double scale) {
  dispatch_numeric_and_half(x.dtype(), "sum", [&]<typename T>() {
    launch_reduce<T>(x, SumAcc<T>{}, SumWrite<T>{out.data_ptr<T>(), scale});
  });
}

// out = prod_r x[o, r, i].
void prod_forward_cuda(const Tensor& out, const Tensor& x, double) {
  dispatch_numeric(x.dtype(), "prod", [&]<typename T>() {
    launch_reduce<T>(x, ProdAcc<T>{}, ProdWrite<T>{out.data_ptr<T>()});
  });
}

// out = sum_r (x - mean)^2 / (N - correction).
void var_forward_cuda(const Tensor& out, const Tensor& x, double correction) {
  dispatch_floating(x.dtype(), "var", [&]<typename T>() {
    launch_reduce<T>(x, VarAcc<T>{}, VarWrite<T>{out.data_ptr<T>(), correction});
  });
}

// out = (sum_r |x|^p)^(1/p), or max |x| for p = inf.
void norm_forward_cuda(const Tensor& out, const Tensor& x, double p) {
  dispatch_floating(x.dtype(), "norm", [&]<typename T>() {
    NormKind kind = std::isinf(p) ? NormKind::Inf : p == 1 ? NormKind::One : p == 2 ? NormKind::Two : NormKind::General;
    launch_reduce<T>(x, NormAcc<T>{kind, p, 0.0}, NormWrite<T>{out.data_ptr<T>()});
  });
}

// x with reduced > 0; out = max_r x (NaN propagates).
template <bool kMax>
void extremum_forward(const Tensor& out, const Tensor& x, const char* op) {
  dispatch_numeric(x.dtype(), op, [&]<typename T>() {
    launch_reduce<T>(x, ExtremumAcc<T, kMax>{}, ExtremumWrite<T, kMax>{out.data_ptr<T>()});
  });
}
void amax_forward_cuda(const Tensor& out, const Tensor& x, double) { extremum_forward<true>(out, x, "amax"); }
void amin_forward_cuda(const Tensor& out, const Tensor& x, double) { extremum_forward<false>(out, x, "amin"); }

// x with reduced > 0; values: (outer, inner) in x's dtype, indices: (outer, inner) int64,
// the first r where x[o, r, i] is the extremum.
template <bool kMax>
void arg_extremum_forward(const Tensor& values, const Tensor& indices, const Tensor& x, const char* op) {
  dispatch_numeric(x.dtype(), op, [&]<typename T>() {
    launch_reduce<T>(x, ArgExtremumAcc<T, kMax>{},
                     ArgExtremumWrite<T, kMax>{values.data_ptr<T>(), indices.data_ptr<int64_t>()});
  });
}
void max_dim_forward_cuda(const Tensor& values, const Tensor& indices, const Tensor& x) {
  arg_extremum_forward<true>(values, indices, x, "max");
}
void min_dim_forward_cuda(const Tensor& values, const Tensor& indices, const Tensor& x) {
  arg_extremum_forward<false>(values, indices, x, "min");
}

// x of any dtype, out: (outer, inner) bool; nonzero counts as true.
void all_forward_cuda(const Tensor& out, const Tensor& x, double) {
  dispatch_all(x.dtype(), [&]<typename T>() {
    launch_reduce<T>(x, AllAcc<T>{}, BoolWrite<AllAcc<T>>{out.data_ptr<bool>()});
  });
}
void any_forward_cuda(const Tensor& out, const Tensor& x, double) {
  dispatch_all(x.dtype(), [&]<typename T>() {
    launch_reduce<T>(x, AnyAcc<T>{}, BoolWrite<AnyAcc<T>>{out.data_ptr<bool>()});
  });
}

}  // namespace

KILN_REGISTER_KERNEL(sum_stub, DeviceType::CUDA, sum_forward_cuda);
KILN_REGISTER_KERNEL(prod_stub, DeviceType::CUDA, prod_forward_cuda);
KILN_REGISTER_KERNEL(var_stub, DeviceType::CUDA, var_forward_cuda);
KILN_REGISTER_KERNEL(norm_stub, DeviceType::CUDA, norm_forward_cuda);
KILN_REGISTER_KERNEL(amax_stub, DeviceType::CUDA, amax_forward_cuda);
KILN_REGISTER_KERNEL(amin_stub, DeviceType::CUDA, amin_forward_cuda);
KILN_REGISTER_KERNEL(all_stub, DeviceType::CUDA, all_forward_cuda);
KILN_REGISTER_KERNEL(any_stub, DeviceType::CUDA, any_forward_cuda);
KILN_REGISTER_KERNEL(max_dim_stub, DeviceType::CUDA, max_dim_forward_cuda);
KILN_REGISTER_KERNEL(min_dim_stub, DeviceType::CUDA, min_dim_forward_cuda);

}  // namespace kiln
