// CPU kernels of the fused optimizer updates: one loop over the elements of a parameter
// and its state, split over threads above the elementwise grain. The arithmetic is the
// unfused formulas' (ops/optim.h), operation for operation, in the parameter's dtype.
#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "core/dtype.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/optim.h"

namespace kiln {

namespace {

// One Adam update of elements [begin, end). The variant flags are template parameters,
// so each instantiation is a branch-free loop the compiler vectorises.
template <typename T, bool kDecoupled, bool kL2, bool kAmsgrad, bool kMaximize>
void adam_range(int64_t begin, int64_t end, T* p, const T* gr, T* m, T* v, T* vmax, T decay, T wd, T b1,
                T one_minus_b1, T b2, T one_minus_b2, T bias_correction2_sqrt, T step_size, T eps) {
  for (int64_t i = begin; i < end; ++i) {
    T g = kMaximize ? -gr[i] : gr[i];
    if constexpr (kDecoupled) p[i] *= decay;
    if constexpr (kL2) g = g + wd * p[i];
    m[i] = m[i] * b1 + one_minus_b1 * g;
    v[i] = v[i] * b2 + one_minus_b2 * (g * g);
    T second = v[i];
    if constexpr (kAmsgrad) second = vmax[i] = std::max(vmax[i], v[i]);
    const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    p[i] = p[i] + -step_size * (m[i] / denom);
  }
}

// param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq: (n) contiguous.
void adam_step_cpu(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const Tensor& max_exp_avg_sq, const AdamStep& a) {
  dispatch_floating(param.dtype(), "adam_step", [&]<typename T>() {
    T* p = param.data_ptr<T>();
    const T* gr = grad.data_ptr<T>();
    T* m = exp_avg.data_ptr<T>();
    T* v = exp_avg_sq.data_ptr<T>();
    T* vmax = a.amsgrad ? max_exp_avg_sq.data_ptr<T>() : nullptr;
    const double step = double(a.step);
    const T decay = T(1.0 - a.lr * a.weight_decay), wd = T(a.weight_decay);
    const T b1 = T(a.beta1), one_minus_b1 = T(1.0 - a.beta1), b2 = T(a.beta2), one_minus_b2 = T(1.0 - a.beta2);
    const T bias_correction2_sqrt = T(std::sqrt(1.0 - std::pow(a.beta2, step)));
    const T step_size = T(a.lr / (1.0 - std::pow(a.beta1, step))), eps = T(a.eps);
    const bool l2 = !a.decoupled && a.weight_decay != 0.0;
    // The 16 variants as one table of instantiations, indexed by the four flags.
    using Range = void (*)(int64_t, int64_t, T*, const T*, T*, T*, T*, T, T, T, T, T, T, T, T, T);
    auto variants = []<int... I>(std::integer_sequence<int, I...>) {
      return std::array<Range, 16>{&adam_range<T, bool(I & 8), bool(I & 4), bool(I & 2), bool(I & 1)>...};
    }(std::make_integer_sequence<int, 16>{});
    const Range run = variants[size_t(a.decoupled) * 8 + size_t(l2) * 4 + size_t(a.amsgrad) * 2 + size_t(a.maximize)];
    cpu::parallel_for(0, param.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      run(begin, end, p, gr, m, v, vmax, decay, wd, b1, one_minus_b1, b2, one_minus_b2, bias_correction2_sqrt,
          step_size, eps);
    });
  });
}

// param, grad, momentum_buffer: (n) contiguous; momentum_buffer unused when momentum == 0.
void sgd_step_cpu(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdStep& a) {
  dispatch_floating(param.dtype(), "sgd_step", [&]<typename T>() {
    T* p = param.data_ptr<T>();
    const T* gr = grad.data_ptr<T>();
    T* buf = a.momentum != 0.0 ? momentum_buffer.data_ptr<T>() : nullptr;
    const T lr = T(a.lr), wd = T(a.weight_decay), momentum = T(a.momentum), damp = T(1.0 - a.dampening);
    const bool maximize = a.maximize, decay = a.weight_decay != 0.0, nesterov = a.nesterov, first = a.first_step;
    cpu::parallel_for(0, param.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        T d = maximize ? -gr[i] : gr[i];
        if (decay) d = d + wd * p[i];
        if (buf) {
          buf[i] = first ? d : buf[i] * momentum + damp * d;
          d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        p[i] = p[i] + -lr * d;
      }
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(adam_step_stub, DeviceType::CPU, adam_step_cpu);
KILN_REGISTER_KERNEL(sgd_step_stub, DeviceType::CPU, sgd_step_cpu);

}  // namespace kiln
