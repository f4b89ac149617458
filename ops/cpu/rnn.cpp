// CPU kernels of the fused LSTM cell pointwise op: one loop over (N, H), each element
// reading its four gates, split over threads above the elementwise grain.
#include <cmath>

#include "core/dtype.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/rnn.h"

namespace kiln {

namespace {

template <typename T>
T sigmoid_of(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// gates, act: (N, 4H); c, h, c_new, tanh_c: (N, H); all contiguous.
void lstm_pointwise_cpu(const Tensor& h, const Tensor& c_new, const Tensor& act, const Tensor& tanh_c,
                        const Tensor& gates, const Tensor& c) {
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const int64_t hidden = c.size(1);
    const T *gp = gates.data_ptr<T>(), *cp = c.data_ptr<T>();
    T *hp = h.data_ptr<T>(), *cnp = c_new.data_ptr<T>(), *ap = act.data_ptr<T>(), *tp = tanh_c.data_ptr<T>();
    cpu::parallel_for(0, c.numel(), cpu::kElementwiseGrain / 8, [&](int64_t begin, int64_t end) {
      for (int64_t e = begin; e < end; ++e) {
        const int64_t row = e / hidden, j = e % hidden, base = row * 4 * hidden + j;
        const T i = sigmoid_of(gp[base]), f = sigmoid_of(gp[base + hidden]);
        const T g = std::tanh(gp[base + 2 * hidden]), o = sigmoid_of(gp[base + 3 * hidden]);
        const T cn = f * cp[e] + i * g, tc = std::tanh(cn);
        ap[base] = i, ap[base + hidden] = f, ap[base + 2 * hidden] = g, ap[base + 3 * hidden] = o;
        cnp[e] = cn, tp[e] = tc, hp[e] = o * tc;
      }
    });
  });
}

// dc_total = dc + dh * o * (1 - tanh(c')^2); dc_prev = dc_total * f;
// d(i, f, g, o pre-activations) = dc_total * g * i (1 - i), dc_total * c * f (1 - f),
//                                 dc_total * i * (1 - g^2),  dh * tanh(c') * o (1 - o).
void lstm_pointwise_backward_cpu(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dc,
                                 const Tensor& act, const Tensor& tanh_c, const Tensor& c) {
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const int64_t hidden = c.size(1);
    const T *dhp = dh.defined() ? dh.data_ptr<T>() : nullptr, *dcp = dc.defined() ? dc.data_ptr<T>() : nullptr;
    const T *ap = act.data_ptr<T>(), *tp = tanh_c.data_ptr<T>(), *cp = c.data_ptr<T>();
    T *dgp = dgates.data_ptr<T>(), *dcpp = dc_prev.data_ptr<T>();
    cpu::parallel_for(0, c.numel(), cpu::kElementwiseGrain / 8, [&](int64_t begin, int64_t end) {
      for (int64_t e = begin; e < end; ++e) {
        const int64_t row = e / hidden, j = e % hidden, base = row * 4 * hidden + j;
        const T i = ap[base], f = ap[base + hidden], g = ap[base + 2 * hidden], o = ap[base + 3 * hidden];
        const T tc = tp[e], dh_e = dhp ? dhp[e] : T(0);
        const T dct = (dcp ? dcp[e] : T(0)) + dh_e * o * (T(1) - tc * tc);
        dgp[base] = dct * g * i * (T(1) - i);
        dgp[base + hidden] = dct * cp[e] * f * (T(1) - f);
        dgp[base + 2 * hidden] = dct * i * (T(1) - g * g);
        dgp[base + 3 * hidden] = dh_e * tc * o * (T(1) - o);
        dcpp[e] = dct * f;
      }
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(lstm_pointwise_stub, DeviceType::CPU, lstm_pointwise_cpu);
KILN_REGISTER_KERNEL(lstm_pointwise_backward_stub, DeviceType::CPU, lstm_pointwise_backward_cpu);

}  // namespace kiln
