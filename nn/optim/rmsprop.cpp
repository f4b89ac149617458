// RMSprop, following torch 1.13's _single_tensor_rmsprop:
//   v = alpha v + (1 - alpha) g^2;  (centered: a = alpha a + (1 - alpha) g, v~ = v - a^2)
//   d = sqrt(v~) + eps  (eps added after the square root);
//   p -= lr * g / d, or with momentum: buf = momentum buf + g / d, p -= lr * buf
#include "nn/optim/rmsprop.h"

#include "ops/binary.h"
#include "ops/unary.h"

namespace kiln::nn::optim {

RMSprop::RMSprop(const std::vector<Tensor>& params, const RMSpropOptions& o)
    : Optimizer("RMSprop", {{"lr", o.lr},
                            {"alpha", o.alpha},
                            {"eps", o.eps},
                            {"weight_decay", o.weight_decay},
                            {"momentum", o.momentum},
                            {"centered", o.centered ? 1.0 : 0.0},
                            {"maximize", o.maximize ? 1.0 : 0.0}}) {
  add_param_group(params);
}

void RMSprop::check_options(const Options& o) const {
  check_non_negative(name(), "learning rate", o.at("lr"));
  check_non_negative(name(), "epsilon value", o.at("eps"));
  check_non_negative(name(), "momentum value", o.at("momentum"));
  check_non_negative(name(), "weight_decay value", o.at("weight_decay"));
  check_non_negative(name(), "alpha value", o.at("alpha"));
}

void RMSprop::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = group.lr(), alpha = group.option("alpha"), eps = group.option("eps"),
               weight_decay = group.option("weight_decay"), momentum = group.option("momentum");
  Tensor g = group.flag("maximize") ? neg(grad) : grad;
  if (weight_decay != 0.0) g = add(g, param, weight_decay);

  Tensor& square_avg = state.buffer("square_avg", param);
  square_avg.mul_(alpha).add_(mul(g, g), 1.0 - alpha);
  Tensor avg;
  if (group.flag("centered")) {
    Tensor& grad_avg = state.buffer("grad_avg", param);
    grad_avg.mul_(alpha).add_(g, 1.0 - alpha);
    avg = sqrt(sub(square_avg, mul(grad_avg, grad_avg)));
  } else {
    avg = sqrt(square_avg);
  }
  avg = add(avg, eps);

  if (momentum > 0.0) {
    Tensor& buf = state.buffer("momentum_buffer", param);
    buf.mul_(momentum).add_(div(g, avg));
    param.add_(buf, -lr);
  } else {
    param.add_(div(g, avg), -lr);
  }
}

}  // namespace kiln::nn::optim
