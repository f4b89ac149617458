// CPU kernels of the fused LSTM cell pointwise op: rows of (N, H) split over threads
// above the elementwise grain, computed by the formulas of ops/kernels/rnn.h that the
// CUDA kernels share; for float32 on a SIMD level, the forward runs each row in one pass
// with the vector sigmoid / tanh (SimdElementwise::lstm_cell_row, ops/cpu/elementwise_simd.h).
#include <algorithm>
#include <exception>
#include <functional>
#include <mutex>
#include <type_traits>

#include "core/dtype.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/elementwise_simd.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/rnn_loops.h"
#include "ops/kernels/rnn.h"

namespace kiln {

namespace {

// gates, act, addend: (N, 4H); bias (4H); c, h, c_new, tanh_c: (N, H); all contiguous.
void lstm_pointwise_cpu(const Tensor& h, const Tensor& c_new, const Tensor& act, const Tensor& tanh_c,
                        const Tensor& gates, const Tensor& c, const Tensor& addend, const Tensor& bias) {
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const int64_t n = c.size(0), hidden = c.size(1);
    const T *gp = gates.data_ptr<T>(), *cp = c.data_ptr<T>();
    const T* addp = addend.defined() ? addend.data_ptr<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data_ptr<T>() : nullptr;
    T *hp = h.data_ptr<T>(), *cnp = c_new.data_ptr<T>(), *ap = act.data_ptr<T>(), *tp = tanh_c.data_ptr<T>();
    const cpu::SimdElementwise* simd = cpu::simd_elementwise();
    if constexpr (std::is_same_v<T, float>) {
      if (simd && hidden > 0) {
        const int64_t row_grain = std::max<int64_t>(1, cpu::kElementwiseGrain / 8 / hidden);
        cpu::parallel_for(0, n, row_grain, [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r)
            simd->lstm_cell_row(hidden, hp + r * hidden, cnp + r * hidden, ap + r * 4 * hidden, tp + r * hidden,
                                gp + r * 4 * hidden, cp + r * hidden, addp ? addp + r * 4 * hidden : nullptr, bp);
        });
        return;
      }
    }
    cpu::parallel_for(0, c.numel(), cpu::kElementwiseGrain / 8, [&](int64_t begin, int64_t end) {
      for (int64_t e = begin; e < end; ++e) lstm_pointwise_element(e, hidden, hp, cnp, ap, tp, gp, cp, addp, bp);
    });
  });
}

// dgates, act: (N, 4H); dc_prev, dh, dc, tanh_c, c: (N, H); dh, dc may be undefined (zero).
// Row by row, so that the inner loop over H has no index division and vectorizes.
// The backward's row loops of the active ISA (float32; float64 runs the generic ones).
template <typename T>
const cpu::LstmBackwardRows<T>& lstm_backward_rows() {
  static const cpu::LstmBackwardRows<T> generic = cpu::make_lstm_backward_rows<T>();
  if constexpr (std::is_same_v<T, float>) {
    switch (cpu::active_isa()) {
      case cpu::CpuIsa::Avx512: return cpu::lstm_backward_rows_avx512();
      case cpu::CpuIsa::Avx2: return cpu::lstm_backward_rows_avx2();
      case cpu::CpuIsa::Generic: break;
    }
  }
  return generic;
}

void lstm_pointwise_backward_cpu(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dc,
                                 const Tensor& act, const Tensor& tanh_c, const Tensor& c) {
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const int64_t n = c.size(0), hidden = c.size(1);
    const T *dhp = dh.defined() ? dh.data_ptr<T>() : nullptr, *dcp = dc.defined() ? dc.data_ptr<T>() : nullptr;
    const T *ap = act.data_ptr<T>(), *tp = tanh_c.data_ptr<T>(), *cp = c.data_ptr<T>();
    T *dgp = dgates.data_ptr<T>(), *dcpp = dc_prev.data_ptr<T>();
    const size_t variant = size_t(dhp != nullptr) * 2 + size_t(dcp != nullptr);
    const cpu::LstmBackwardRow<T> row = lstm_backward_rows<T>().row[variant];
    const int64_t row_grain = std::max<int64_t>(1, cpu::kElementwiseGrain / 8 / std::max<int64_t>(hidden, 1));
    cpu::parallel_for(0, n, row_grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        row(hidden, ap + r * 4 * hidden, tp + r * hidden, cp + r * hidden, dhp ? dhp + r * hidden : nullptr,
            dcp ? dcp + r * hidden : nullptr, dgp + r * 4 * hidden, dcpp + r * hidden);
      }
    });
  });
}

// One band of rows per thread (Note [LSTM row bands]); a band costs at least
// kMinBandCost multiply-adds, else fewer threads run. An exception thrown in a band
// reaches the caller once every band has finished, as OpenMP cannot carry it out of
// the parallel region.
void lstm_row_bands_cpu(int64_t rows, int64_t row_cost, const std::function<void(int64_t, int64_t)>& body) {
  constexpr int64_t kMinBandCost = int64_t(1) << 21;
  const int64_t grain = std::max<int64_t>(1, kMinBandCost / std::max<int64_t>(row_cost, 1));
  std::exception_ptr error;
  std::mutex error_mutex;
  cpu::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    try {
      body(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace

KILN_REGISTER_KERNEL(lstm_pointwise_stub, DeviceType::CPU, lstm_pointwise_cpu);
KILN_REGISTER_KERNEL(lstm_pointwise_backward_stub, DeviceType::CPU, lstm_pointwise_backward_cpu);
KILN_REGISTER_KERNEL(lstm_row_bands_stub, DeviceType::CPU, lstm_row_bands_cpu);

}  // namespace kiln
