// Fused optimizer updates: each reads and writes a parameter and its state buffers in
// one pass, in place, with no temporaries (nn/optim calls them; the formulas are
// torch 1.13's _single_tensor_adam/_adamw/_sgd, in the same order of operations).
#pragma once

#include "core/tensor.h"

namespace kiln {

struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;         // this update's step number, from 1
  bool decoupled;       // AdamW: p *= 1 - lr * wd first, instead of g += wd * p
  bool amsgrad, maximize;
};

// param, grad, exp_avg, exp_avg_sq (and max_exp_avg_sq when amsgrad; undefined
// otherwise): the same shape, floating dtype and device; param and the buffers are
// updated in place (their version counters advance).
//   g = ±grad (+ wd * p);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   (amsgrad: vmax = max(vmax, v), used for v);  p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, const AdamStep& args);

struct SgdStep {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
  bool first_step;  // the momentum buffer is set to d (not decayed) on the first step
};

// d = ±grad + wd * p;  buf = d (first step) or momentum * buf + (1 - dampening) * d;
// d = d + momentum * buf (nesterov) or buf;  p -= lr * d. momentum_buffer is undefined
// when momentum == 0.
void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdStep& args);

}  // namespace kiln
