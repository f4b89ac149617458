// CPU kernels of class_nll_loss (ops/nll.cpp): one pass over the targets for the losses
// and their totals, and for the gradient a zero fill and one write per target. A target
// out of range throws before anything is read with it (the op checks, this checks again).
#include <cstring>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/kernels/nll.h"

namespace kiln {

namespace {

void check_target(int64_t t, int64_t classes) {
  KILN_CHECK(t >= 0 && t < classes, "nll_loss: target class index ", t, " is out of range for ", classes,
             " classes (expected 0 <= index < ", classes, ", or ignore_index)");
}

void nll_forward_cpu(const Tensor& losses, const Tensor& totals, const Tensor& logp, const Tensor& target,
                     const Tensor& weight, int64_t ignore_index) {
  const int64_t rows = logp.size(0), classes = logp.size(1), inner = logp.size(2);
  dispatch_floating(logp.dtype(), "nll_loss", [&]<typename T>() {
    const T* x = logp.data_ptr<T>();
    const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
    const int64_t* t = target.data_ptr<int64_t>();
    T* out = losses.data_ptr<T>();
    double loss_sum = 0, weight_sum = 0;
    for (int64_t n = 0; n < rows; ++n) {
      for (int64_t s = 0; s < inner; ++s, ++t, ++out) {
        if (*t == ignore_index) {
          *out = T(0);
          continue;
        }
        check_target(*t, classes);
        const T wt = w ? w[*t] : T(1);
        *out = -wt * x[(n * classes + *t) * inner + s];
        loss_sum += double(*out);
        weight_sum += double(wt);
      }
    }
    double* sums = totals.data_ptr<double>();
    sums[0] = loss_sum, sums[1] = weight_sum;
  });
}

void nll_backward_cpu(const Tensor& dlogp, const Tensor& grad, double divisor, const Tensor& target,
                      const Tensor& weight, int64_t ignore_index) {
  const int64_t rows = dlogp.size(0), classes = dlogp.size(1), inner = dlogp.size(2);
  dispatch_floating(dlogp.dtype(), "nll_loss", [&]<typename T>() {
    T* dx = dlogp.data_ptr<T>();
    std::memset(static_cast<void*>(dx), 0, sizeof(T) * size_t(dlogp.numel()));
    const T* g = grad.data_ptr<T>();
    const bool per_target = grad.numel() != 1;  // else one value for every target
    const T* w = weight.defined() ? weight.data_ptr<T>() : nullptr;
    const int64_t* t = target.data_ptr<int64_t>();
    for (int64_t n = 0; n < rows; ++n) {
      for (int64_t s = 0; s < inner; ++s, ++t) {
        if (*t == ignore_index) continue;
        check_target(*t, classes);
        const T gv = per_target ? g[n * inner + s] : g[0];
        dx[(n * classes + *t) * inner + s] = -(w ? w[*t] : T(1)) * (gv / T(divisor));
      }
    }
  });
}

}  // namespace

KILN_REGISTER_KERNEL(nll_forward_stub, DeviceType::CPU, nll_forward_cpu);
KILN_REGISTER_KERNEL(nll_backward_stub, DeviceType::CPU, nll_backward_cpu);

}  // namespace kiln
