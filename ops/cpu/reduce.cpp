// CPU kernels of the reductions in ops/reduce.cpp: sum (and mean), prod, var, norm,
// amax/amin, max/min with indices, all/any. Every kernel reads x as (outer, reduced,
// inner) and writes (outer, inner); reduce_3d below splits that work across threads.
// The accumulators are shared with CUDA: ops/kernels/reduce_acc.h.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/rows_simd.h"
#include "ops/kernels/reduce.h"
#include "ops/kernels/reduce_acc.h"

namespace kiln {

namespace {

constexpr int64_t kReduceGrain = 32768;  // input elements per thread, at least
// Inner positions one task accumulates side by side. Long segments matter: a task reads
// one segment per row, so 256 floats (1 KiB out of every row) ran at a third of the
// bandwidth of 4096 (16 KiB, with 32 KiB of double accumulators still in L1/L2).
constexpr int64_t kColumnBlock = 4096;

// Folds a contiguous run p[0, n) into acc; p[0] is at position r0 of the reduced dim.
template <typename Acc, typename T>
void accumulate_run(Acc& acc, const T* p, int64_t n, int64_t r0) {
  for (int64_t i = 0; i < n; ++i) acc.add(p[i], r0 + i);
}

// Floating sums use 8 independent partial sums, so the additions do not wait on each
// other and the compiler can vectorise them (it may not reorder a single running sum).
template <typename T>
  requires std::is_floating_point_v<T>
void accumulate_run(SumAcc<T>& acc, const T* p, int64_t n, int64_t) {
  double lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += double(p[i + k]);
  for (; i < n; ++i) lanes[0] += double(p[i]);
  double total = 0;
  for (double l : lanes) total += l;
  acc.total += total;
}

// The reduction driver. x: (outer, reduced, inner) contiguous; calls write(i, acc)
// once for each output i in [0, outer * inner) with the accumulator of that output,
// started from `init`. Three ways to split the work across threads:
//   inner == 1, many rows:  one thread reduces whole rows (contiguous runs);
//   inner == 1, few long rows: each row is cut into chunks reduced in parallel, whose
//                           partial accumulators are merged in order;
//   inner > 1:              a task takes one outer index and a block of inner
//                           positions, and walks the reduced dim adding a whole
//                           contiguous row segment into a block of accumulators
//                           (and a chunk of the reduced dim, when there are fewer
//                           such blocks than threads).
template <typename T, typename Acc, typename Write>
void reduce_3d(const Tensor& x, const Acc& init, Write write) {
  const int64_t outer = x.size(0), reduced = x.size(1), inner = x.size(2);
  const int64_t n_out = outer * inner;
  if (n_out == 0) return;
  const T* data = x.data_ptr<T>();
  const int64_t row_cost = std::max<int64_t>(reduced, 1);

  if (inner == 1) {
    bool split_rows = outer < cpu::num_threads() && reduced >= 2 * kReduceGrain;
    if (!split_rows) {
      cpu::parallel_for(0, outer, std::max<int64_t>(1, kReduceGrain / row_cost), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          Acc acc = init;
          accumulate_run(acc, data + o * reduced, reduced, 0);
          write(o, acc);
        }
      });
      return;
    }
    const int64_t chunks = std::min<int64_t>(cpu::num_threads(), reduced / kReduceGrain);
    std::vector<Acc> partial(size_t(chunks), init);
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = data + o * reduced;
      for (Acc& a : partial) a = init;
      cpu::parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          int64_t r0 = reduced * c / chunks, r1 = reduced * (c + 1) / chunks;
          accumulate_run(partial[size_t(c)], row + r0, r1 - r0, r0);
        }
      });
      Acc acc = partial[0];
      for (int64_t c = 1; c < chunks; ++c) acc.merge(partial[size_t(c)]);
      write(o, acc);
    }
    return;
  }

  // Column blocks; with too few (outer, block) pairs to keep every thread busy, the
  // reduced dim is cut into chunks too, each accumulating into its own partial block,
  // merged in chunk order afterwards.
  const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  const int64_t pairs = outer * blocks;
  const bool split_reduced = pairs < cpu::num_threads() && outer * reduced * inner >= 2 * kReduceGrain;
  const int64_t chunks = split_reduced ? std::min<int64_t>(cpu::num_threads(), reduced) : 1;
  std::vector<Acc> partial(split_reduced ? size_t(chunks * n_out) : 0, init);  // [chunk][o * inner + i]
  const int64_t task_cost = std::max<int64_t>(reduced / chunks, 1) * std::min(inner, kColumnBlock);
  cpu::parallel_for(0, pairs * chunks, std::max<int64_t>(1, kReduceGrain / task_cost), [&](int64_t b, int64_t e) {
    std::vector<Acc> local;
    for (int64_t t = b; t < e; ++t) {
      int64_t chunk = t % chunks, pair = t / chunks;
      int64_t o = pair / blocks;
      int64_t c0 = (pair % blocks) * kColumnBlock;
      int64_t cols = std::min(inner - c0, kColumnBlock);
      int64_t r0 = reduced * chunk / chunks, r1 = reduced * (chunk + 1) / chunks;
      Acc* accs;
      if (split_reduced) {
        accs = partial.data() + chunk * n_out + o * inner + c0;
      } else {
        local.assign(size_t(cols), init);
        accs = local.data();
      }
      for (int64_t r = r0; r < r1; ++r) {
        const T* seg = data + (o * reduced + r) * inner + c0;
        for (int64_t i = 0; i < cols; ++i) accs[i].add(seg[i], r);
      }
      if (!split_reduced)
        for (int64_t i = 0; i < cols; ++i) write(o * inner + c0 + i, accs[i]);
    }
  });
  if (!split_reduced) return;
  cpu::parallel_for(0, n_out, kReduceGrain / chunks, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Acc acc = partial[size_t(i)];
      for (int64_t c = 1; c < chunks; ++c) acc.merge(partial[size_t(c * n_out + i)]);
      write(i, acc);
    }
  });
}

// The value written for a sum: scaled by `scale` (1 for sum, 1/N for mean) for
// floating types; integer sums are exact and never scaled.
template <typename T>
T scaled_sum(acc_t<T> total, double scale) {
  if constexpr (is_16bit_float_v<T>) {
    return T(float(total * scale));
  } else if constexpr (std::is_floating_point_v<T>) {
    return T(total * scale);
  } else {
    return T(total);
  }
}

// Note [Column sums]
// A float32 sum over a dim that is not the last (the bias gradients: a (T N, 4H) LSTM
// gate gradient summed over its rows, or a linear layer's (batch, out)) adds rows into a
// block of double accumulators. reduce_3d's loop is compiled for the baseline ISA, two
// doubles a vector; the row loops of the active ISA (cpu::RowKernels::column_sums) add
// eight at a time. The columns are split among threads (never the rows), so every
// column is one running sum in row order, as reduce_3d's unsplit walk adds it.
void float_column_sums(const cpu::RowKernels& rows, const Tensor& out, const Tensor& x, double scale) {
  const int64_t outer = x.size(0), reduced = x.size(1), inner = x.size(2);
  const float* data = x.data_ptr<float>();
  float* o = out.data_ptr<float>();
  // Blocks of at most kColumnBlock columns; fewer blocks than threads are cut further,
  // down to kReduceGrain elements a block, in multiples of 16 columns.
  const int64_t threads = cpu::num_threads();
  const int64_t column_grain = std::max<int64_t>(16, kReduceGrain / std::max<int64_t>(reduced, 1));
  int64_t block = std::min(kColumnBlock, inner);
  if (outer * ((inner + block - 1) / block) < threads) block = std::max(column_grain, (inner + threads - 1) / threads);
  block = std::min(inner, (block + 15) / 16 * 16);
  const int64_t per_outer = (inner + block - 1) / block;
  cpu::parallel_for(0, outer * per_outer, 1, [&](int64_t b, int64_t e) {
    std::vector<double> acc;
    for (int64_t t = b; t < e; ++t) {
      const int64_t oi = t / per_outer, c0 = (t % per_outer) * block, cols = std::min(block, inner - c0);
      acc.assign(size_t(cols), 0.0);
      rows.column_sums(data + oi * reduced * inner + c0, reduced, inner, cols, acc.data());
      for (int64_t i = 0; i < cols; ++i) o[oi * inner + c0 + i] = scaled_sum<float>(acc[size_t(i)], scale);
    }
  });
}

// x: (outer, reduced, inner), out: (outer, inner); out = scale * sum_r x[o, r, i].
void sum_forward_cpu(const Tensor& out, const Tensor& x, double scale) {
  if (x.dtype() == kFloat32 && x.size(2) > 1 && x.numel() > 0) {
    if (const cpu::RowKernels* rows = cpu::row_kernels()) return float_column_sums(*rows, out, x, scale);
  }
  dispatch_numeric_and_half(x.dtype(), "sum", [&]<typename T>() {
    T* o = out.data_ptr<T>();
    reduce_3d<T>(x, SumAcc<T>{}, [&](int64_t i, const SumAcc<T>& a) { o[i] = scaled_sum<T>(a.total, scale); });
  });
}

// x: (outer, reduced, inner), out: (outer, inner); out = prod_r x[o, r, i].
void prod_forward_cpu(const Tensor& out, const Tensor& x, double) {
  dispatch_numeric(x.dtype(), "prod", [&]<typename T>() {
    T* o = out.data_ptr<T>();
    reduce_3d<T>(x, ProdAcc<T>{}, [&](int64_t i, const ProdAcc<T>& a) { o[i] = T(a.total); });
  });
}

// x: (outer, reduced, inner), out: (outer, inner); out = sum_r (x - mean)^2 / (N - correction).
void var_forward_cpu(const Tensor& out, const Tensor& x, double correction) {
  dispatch_floating(x.dtype(), "var", [&]<typename T>() {
    T* o = out.data_ptr<T>();
    reduce_3d<T>(x, VarAcc<T>{}, [&](int64_t i, const VarAcc<T>& a) { o[i] = T(a.variance(correction)); });
  });
}

// x: (outer, reduced, inner), out: (outer, inner); out = (sum_r |x|^p)^(1/p), or max |x| for p = inf.
void norm_forward_cpu(const Tensor& out, const Tensor& x, double p) {
  dispatch_floating(x.dtype(), "norm", [&]<typename T>() {
    NormAcc<T> init;
    init.p = p;
    init.kind = std::isinf(p) ? NormKind::Inf : p == 1 ? NormKind::One : p == 2 ? NormKind::Two : NormKind::General;
    T* o = out.data_ptr<T>();
    reduce_3d<T>(x, init, [&](int64_t i, const NormAcc<T>& a) { o[i] = T(a.norm()); });
  });
}

// x: (outer, reduced, inner) with reduced > 0, out: (outer, inner); out = max_r x (NaN propagates).
template <bool kMax>
void extremum_forward(const Tensor& out, const Tensor& x, const char* op) {
  dispatch_numeric(x.dtype(), op, [&]<typename T>() {
    T* o = out.data_ptr<T>();
    reduce_3d<T>(x, ExtremumAcc<T, kMax>{}, [&](int64_t i, const ExtremumAcc<T, kMax>& a) { o[i] = a.best; });
  });
}
void amax_forward_cpu(const Tensor& out, const Tensor& x, double) { extremum_forward<true>(out, x, "amax"); }
void amin_forward_cpu(const Tensor& out, const Tensor& x, double) { extremum_forward<false>(out, x, "amin"); }

// x: (outer, reduced, inner) with reduced > 0; values: (outer, inner) in x's dtype,
// indices: (outer, inner) int64, the first r where x[o, r, i] is the extremum.
template <bool kMax>
void arg_extremum_forward(const Tensor& values, const Tensor& indices, const Tensor& x, const char* op) {
  dispatch_numeric(x.dtype(), op, [&]<typename T>() {
    T* v = values.data_ptr<T>();
    int64_t* idx = indices.data_ptr<int64_t>();
    reduce_3d<T>(x, ArgExtremumAcc<T, kMax>{}, [&](int64_t i, const ArgExtremumAcc<T, kMax>& a) {
      v[i] = a.best;
      idx[i] = a.index;
    });
  });
}
void max_dim_forward_cpu(const Tensor& values, const Tensor& indices, const Tensor& x) {
  arg_extremum_forward<true>(values, indices, x, "max");
}
void min_dim_forward_cpu(const Tensor& values, const Tensor& indices, const Tensor& x) {
  arg_extremum_forward<false>(values, indices, x, "min");
}

// x: (outer, reduced, inner) of any dtype, out: (outer, inner) bool; nonzero counts as true.
void all_forward_cpu(const Tensor& out, const Tensor& x, double) {
  dispatch_all(x.dtype(), [&]<typename T>() {
    bool* o = out.data_ptr<bool>();
    reduce_3d<T>(x, AllAcc<T>{}, [&](int64_t i, const AllAcc<T>& a) { o[i] = a.value; });
  });
}
void any_forward_cpu(const Tensor& out, const Tensor& x, double) {
  dispatch_all(x.dtype(), [&]<typename T>() {
    bool* o = out.data_ptr<bool>();
    reduce_3d<T>(x, AnyAcc<T>{}, [&](int64_t i, const AnyAcc<T>& a) { o[i] = a.value; });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(sum_stub, DeviceType::CPU, sum_forward_cpu);
KILN_REGISTER_KERNEL(prod_stub, DeviceType::CPU, prod_forward_cpu);
KILN_REGISTER_KERNEL(var_stub, DeviceType::CPU, var_forward_cpu);
KILN_REGISTER_KERNEL(norm_stub, DeviceType::CPU, norm_forward_cpu);
KILN_REGISTER_KERNEL(amax_stub, DeviceType::CPU, amax_forward_cpu);
KILN_REGISTER_KERNEL(amin_stub, DeviceType::CPU, amin_forward_cpu);
KILN_REGISTER_KERNEL(all_stub, DeviceType::CPU, all_forward_cpu);
KILN_REGISTER_KERNEL(any_stub, DeviceType::CPU, any_forward_cpu);
KILN_REGISTER_KERNEL(max_dim_stub, DeviceType::CPU, max_dim_forward_cpu);
KILN_REGISTER_KERNEL(min_dim_stub, DeviceType::CPU, min_dim_forward_cpu);

}  // namespace kiln
