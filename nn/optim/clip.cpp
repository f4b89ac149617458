// Gradient clipping (nn/optim/clip.h). The total p-norm is combined from each grad's norm:
//   total = (sum_i ||g_i||_p^p)^(1/p) = ||(||g_1||_p, ..., ||g_n||_p)||_p, or max_i ||g_i||_inf.
#include "nn/optim/clip.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace kiln::nn::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  KILN_CHECK(norm_type > 0.0, "clip_grad_norm_: expected norm_type > 0 (or INFINITY), got ", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;

  const bool is_inf = std::isinf(norm_type);
  double total = 0.0;
  for (const Tensor& g : grads) {
    const double n = g.numel() == 0 ? 0.0 : norm(g, norm_type).item<double>();
    total = is_inf ? std::max(total, n) : total + std::pow(n, norm_type);
  }
  if (!is_inf) total = std::pow(total, 1.0 / norm_type);
  KILN_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
             " of the gradients is ", total, ", so they cannot be clipped; pass error_if_nonfinite = false to ",
             "scale them anyway");

  const double clip_coef = max_norm / (total + 1e-6);
  if (clip_coef < 1.0)
    for (Tensor g : grads) g.mul_(clip_coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  KILN_CHECK(clip_value >= 0.0, "clip_grad_value_: expected clip_value >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    Tensor g = p.grad();
    g.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace kiln::nn::optim
