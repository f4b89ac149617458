// Adam and AdamW, following torch 1.13's _single_tensor_adam/_single_tensor_adamw:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: vmax = max(vmax, v), used for v)
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Adam adds wd * p to g (L2); AdamW scales p by (1 - lr * wd) first (decoupled decay).
// Each parameter is one pass of the fused kernel adam_step_ (ops/optim.h).
#include "nn/optim/adam.h"

#include <cmath>

#include "ops/optim.h"

namespace kiln::nn::optim {

namespace {

Options adam_options(double lr, std::pair<double, double> betas, double eps, double weight_decay, bool amsgrad,
                     bool maximize) {
  return {{"lr", lr},
          {"beta1", betas.first},
          {"beta2", betas.second},
          {"eps", eps},
          {"weight_decay", weight_decay},
          {"amsgrad", amsgrad ? 1.0 : 0.0},
          {"maximize", maximize ? 1.0 : 0.0}};
}

void check_adam_options(const std::string& name, const Options& o) {
  check_non_negative(name, "learning rate", o.at("lr"));
  check_non_negative(name, "epsilon value", o.at("eps"));
  check_in_unit_interval(name, "beta parameter at index 0:", o.at("beta1"));
  check_in_unit_interval(name, "beta parameter at index 1:", o.at("beta2"));
  check_non_negative(name, "weight_decay value", o.at("weight_decay"));
}

// One Adam step of `param` through the fused kernel; `decoupled` selects AdamW's decay.
void adam_update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state, bool decoupled) {
  const bool amsgrad = group.flag("amsgrad");
  Tensor& exp_avg = state.buffer("exp_avg", param);
  Tensor& exp_avg_sq = state.buffer("exp_avg_sq", param);
  Tensor max_exp_avg_sq = amsgrad ? state.buffer("max_exp_avg_sq", param) : Tensor();
  adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
             {.lr = group.lr(),
              .beta1 = group.option("beta1"),
              .beta2 = group.option("beta2"),
              .eps = group.option("eps"),
              .weight_decay = group.option("weight_decay"),
              .step = state.step,
              .decoupled = decoupled,
              .amsgrad = amsgrad,
              .maximize = group.flag("maximize")});
}

}  // namespace

Adam::Adam(const std::vector<Tensor>& params, const AdamOptions& o)
    : Optimizer("Adam", adam_options(o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize)) {
  add_param_group(params);
}

void Adam::check_options(const Options& options) const { check_adam_options(name(), options); }

void Adam::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
  adam_update(group, param, grad, state, /*decoupled=*/false);
}

AdamW::AdamW(const std::vector<Tensor>& params, const AdamWOptions& o)
    : Optimizer("AdamW", adam_options(o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize)) {
  add_param_group(params);
}

void AdamW::check_options(const Options& options) const { check_adam_options(name(), options); }

void AdamW::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
  adam_update(group, param, grad, state, /*decoupled=*/true);
}

}  // namespace kiln::nn::optim
