// CPU kernels of the fused LSTM cell pointwise op: one loop over (N, H), split over
// threads above the elementwise grain, each element computed by the formulas of
// ops/kernels/rnn.h that the CUDA kernels share.
#include "core/dtype.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/rnn.h"

namespace kiln {

namespace {

// gates, act: (N, 4H); c, h, c_new, tanh_c: (N, H); all contiguous.
void lstm_pointwise_cpu(const Tensor& h, const Tensor& c_new, const Tensor& act, const Tensor& tanh_c,
                        const Tensor& gates, const Tensor& c) {
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const int64_t hidden = c.size(1);
    const T *gp = gates.data_ptr<T>(), *cp = c.data_ptr<T>();
    T *hp = h.data_ptr<T>(), *cnp = c_new.data_ptr<T>(), *ap = act.data_ptr<T>(), *tp = tanh_c.data_ptr<T>();
    cpu::parallel_for(0, c.numel(), cpu::kElementwiseGrain / 8, [&](int64_t begin, int64_t end) {
      for (int64_t e = begin; e < end; ++e) lstm_pointwise_element(e, hidden, hp, cnp, ap, tp, gp, cp);
    });
  });
}

// dgates, act: (N, 4H); dc_prev, dh, dc, tanh_c, c: (N, H); dh, dc may be undefined (zero).
void lstm_pointwise_backward_cpu(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dc,
                                 const Tensor& act, const Tensor& tanh_c, const Tensor& c) {
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&]<typename T>() {
    const int64_t hidden = c.size(1);
    const T *dhp = dh.defined() ? dh.data_ptr<T>() : nullptr, *dcp = dc.defined() ? dc.data_ptr<T>() : nullptr;
    const T *ap = act.data_ptr<T>(), *tp = tanh_c.data_ptr<T>(), *cp = c.data_ptr<T>();
    T *dgp = dgates.data_ptr<T>(), *dcpp = dc_prev.data_ptr<T>();
    cpu::parallel_for(0, c.numel(), cpu::kElementwiseGrain / 8, [&](int64_t begin, int64_t end) {
      for (int64_t e = begin; e < end; ++e) lstm_pointwise_backward_element(e, hidden, dgp, dcpp, dhp, dcp, ap, tp, cp);
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(lstm_pointwise_stub, DeviceType::CPU, lstm_pointwise_cpu);
KILN_REGISTER_KERNEL(lstm_pointwise_backward_stub, DeviceType::CPU, lstm_pointwise_backward_cpu);

}  // namespace kiln
