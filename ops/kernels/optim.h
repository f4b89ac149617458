// The kernel contract of the fused optimizer updates (ops/optim.cpp defines the stubs
// and calls them; every device's kernels, ops/cpu/optim.cpp and cuda/, register against
// them).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "core/host_device.h"
#include "ops/optim.h"

namespace kiln {

// Every tensor contiguous, of one shape, dtype and device; max_exp_avg_sq undefined
// unless args.amsgrad. Updated in place.
using AdamStepKernel = void(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                            const Tensor& max_exp_avg_sq, const AdamStep& args);
KILN_DECLARE_STUB(adam_step_stub, AdamStepKernel);
// momentum_buffer undefined when args.momentum == 0.
using SgdStepKernel = void(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                           const SgdStep& args);
KILN_DECLARE_STUB(sgd_step_stub, SgdStepKernel);

// ---- the element formulas every device's kernel calls ----

// Adam's per-step constants, computed on the host in double and rounded to T once.
template <typename T>
struct AdamConstants {
  T decay, wd, b1, one_minus_b1, b2, one_minus_b2, bias_correction2_sqrt, step_size, eps;
  bool decoupled, l2, amsgrad, maximize;
};
template <typename T>
AdamConstants<T> adam_constants(const AdamStep& a) {
  const double step = double(a.step);
  return {T(1.0 - a.lr * a.weight_decay),
          T(a.weight_decay),
          T(a.beta1),
          T(1.0 - a.beta1),
          T(a.beta2),
          T(1.0 - a.beta2),
          T(std::sqrt(1.0 - std::pow(a.beta2, step))),
          T(a.lr / (1.0 - std::pow(a.beta1, step))),
          T(a.eps),
          a.decoupled,
          !a.decoupled && a.weight_decay != 0.0,
          a.amsgrad,
          a.maximize};
}

// Element i of an Adam step: the formula of ops/optim.h, operation for operation, in T.
// The flags are arguments so that a CPU loop passing compile-time constants inlines to a
// branch-free body it can vectorise; vmax is read only when amsgrad.
template <typename T>
KILN_HOST_DEVICE KILN_ALWAYS_INLINE void adam_update_element(int64_t i, T* p, const T* grad, T* m, T* v, T* vmax,
                                                 const AdamConstants<T>& c, bool decoupled, bool l2, bool amsgrad,
                                                 bool maximize) {
  T g = maximize ? -grad[i] : grad[i];
  T pi = p[i];
  if (decoupled) pi *= c.decay;
  if (l2) g = g + c.wd * pi;
  const T mi = m[i] * c.b1 + c.one_minus_b1 * g;
  const T vi = v[i] * c.b2 + c.one_minus_b2 * (g * g);
  m[i] = mi;
  v[i] = vi;
  T second = vi;
  if (amsgrad) {
    const T old = vmax[i];
    second = old < vi ? vi : old;  // std::max(old, vi)
    vmax[i] = second;
  }
  const T denom = std::sqrt(second) / c.bias_correction2_sqrt + c.eps;
  p[i] = pi + -c.step_size * (mi / denom);
}

template <typename T>
struct SgdConstants {
  T lr, wd, momentum, damp;
  bool maximize, decay, nesterov, first;
};
template <typename T>
SgdConstants<T> sgd_constants(const SgdStep& a) {
  return {T(a.lr),     T(a.weight_decay),        T(a.momentum), T(1.0 - a.dampening),
          a.maximize, a.weight_decay != 0.0, a.nesterov,    a.first_step};
}

// Element i of an SGD step; buf is nullptr when momentum == 0.
template <typename T>
KILN_HOST_DEVICE KILN_ALWAYS_INLINE void sgd_update_element(int64_t i, T* p, const T* grad, T* buf,
                                                         const SgdConstants<T>& c) {
  const T pi = p[i];
  T d = c.maximize ? -grad[i] : grad[i];
  if (c.decay) d = d + c.wd * pi;
  if (buf) {
    const T b = c.first ? d : buf[i] * c.momentum + c.damp * d;
    buf[i] = b;
    d = c.nesterov ? d + c.momentum * b : b;
  }
  p[i] = pi + -c.lr * d;
}

}  // namespace kiln
