// CPU kernels of the fused layer norm: rows split over threads; each row's statistics
// accumulate in double (see Note [Reduction accumulators] in ops/cpu/reduce.cpp). The
// forward and the backward are one kernel per row (ops/cpu/rows_loops.h; float32 per
// ISA, Note [SIMD row kernels]). The weight and bias gradients sum over rows: each
// thread keeps its own partial sums, added in thread order at the end.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/rows_loops.h"
#include "ops/cpu/rows_simd.h"
#include "ops/kernels/norm.h"

namespace kiln {

namespace {

int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(cols, 1)); }

// x, y: (rows, cols); mean, rstd: (rows); weight, bias: (cols) or undefined.
void layer_norm_cpu(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                    const Tensor& bias, double eps) {
  dispatch_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    const int64_t rows = x.size(0), cols = x.size(1);
    const T* xp = x.data_ptr<T>();
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data_ptr<T>() : nullptr;
    T *yp = y.data_ptr<T>(), *mp = mean.data_ptr<T>(), *rp = rstd.data_ptr<T>();
    const cpu::RowKernels* simd = std::is_same_v<T, float> ? cpu::row_kernels() : nullptr;
    cpu::parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        if constexpr (std::is_same_v<T, float>) {
          if (simd != nullptr) {
            simd->layer_norm_row(xp + r * cols, wp, bp, yp + r * cols, cols, eps, mp + r, rp + r);
            continue;
          }
        }
        cpu::layer_norm_row_any<T>(xp + r * cols, wp, bp, yp + r * cols, cols, eps, mp + r, rp + r);
      }
    });
  });
}

// dx = rstd (dxh - mean(dxh) - x_hat mean(dxh x_hat)) with dxh = dy * weight;
// dweight = sum over rows of dy x_hat, dbias = sum over rows of dy.
void layer_norm_backward_cpu(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                             const Tensor& x, const Tensor& mean, const Tensor& rstd, const Tensor& weight) {
  dispatch_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    const int64_t rows = x.size(0), cols = x.size(1);
    const T *xp = x.data_ptr<T>(), *gp = dy.data_ptr<T>(), *mp = mean.data_ptr<T>(), *rp = rstd.data_ptr<T>();
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    T* dxp = dx.data_ptr<T>();
    const bool want_w = dweight.defined(), want_b = dbias.defined();
    const int threads = cpu::num_threads();
    const cpu::RowKernels* simd = std::is_same_v<T, float> ? cpu::row_kernels() : nullptr;
    // partial[t]: thread t's sums, dweight then dbias (cols each).
    std::vector<std::vector<double>> partial(static_cast<size_t>(threads));
    cpu::parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      std::vector<double>& acc = partial[size_t(cpu::thread_index())];
      if ((want_w || want_b) && acc.empty()) acc.assign(size_t(2 * cols), 0.0);
      for (int64_t r = r0; r < r1; ++r) {
        const T *row = xp + r * cols, *g = gp + r * cols;
        T* out = dxp + r * cols;
        const double m = double(mp[r]), v = double(rp[r]);
        double* sums = acc.empty() ? nullptr : acc.data();
        if constexpr (std::is_same_v<T, float>) {
          if (simd != nullptr) {
            simd->layer_norm_backward_row(row, g, wp, out, sums, cols, m, v);
            continue;
          }
        }
        cpu::layer_norm_backward_row_any<T>(row, g, wp, out, sums, cols, m, v);
      }
    });
    if (!want_w && !want_b) return;
    T *dwp = want_w ? dweight.data_ptr<T>() : nullptr, *dbp = want_b ? dbias.data_ptr<T>() : nullptr;
    for (int64_t j = 0; j < cols; ++j) {
      double w = 0, b = 0;
      for (const std::vector<double>& acc : partial) {
        if (acc.empty()) continue;
        w += acc[size_t(j)];
        b += acc[size_t(cols + j)];
      }
      if (dwp) dwp[j] = T(w);
      if (dbp) dbp[j] = T(b);
    }
  });
}

}  // namespace

KILN_REGISTER_KERNEL(layer_norm_stub, DeviceType::CPU, layer_norm_cpu);
KILN_REGISTER_KERNEL(layer_norm_backward_stub, DeviceType::CPU, layer_norm_backward_cpu);

}  // namespace kiln
