// Adagrad, following torch 1.13's _single_tensor_adagrad:
//   clr = lr / (1 + (t - 1) lr_decay);  s += g^2 (s starts at initial_accumulator_value);
//   p -= clr * g / (sqrt(s) + eps)
#include "nn/optim/adagrad.h"

#include "ops/binary.h"
#include "ops/unary.h"

namespace kiln::nn::optim {

Adagrad::Adagrad(const std::vector<Tensor>& params, const AdagradOptions& o)
    : Optimizer("Adagrad", {{"lr", o.lr},
                            {"lr_decay", o.lr_decay},
                            {"weight_decay", o.weight_decay},
                            {"initial_accumulator_value", o.initial_accumulator_value},
                            {"eps", o.eps},
                            {"maximize", o.maximize ? 1.0 : 0.0}}) {
  add_param_group(params);
}

void Adagrad::check_options(const Options& o) const {
  check_non_negative(name(), "learning rate", o.at("lr"));
  check_non_negative(name(), "lr_decay value", o.at("lr_decay"));
  check_non_negative(name(), "weight_decay value", o.at("weight_decay"));
  check_non_negative(name(), "initial_accumulator_value", o.at("initial_accumulator_value"));
  check_non_negative(name(), "epsilon value", o.at("eps"));
}

void Adagrad::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = group.lr(), lr_decay = group.option("lr_decay"), weight_decay = group.option("weight_decay"),
               eps = group.option("eps");
  Tensor g = group.flag("maximize") ? neg(grad) : grad;
  if (weight_decay != 0.0) g = add(g, param, weight_decay);
  const double clr = lr / (1.0 + (double(state.step) - 1.0) * lr_decay);
  // The accumulator is filled with initial_accumulator_value the first time it is used.
  Tensor& state_sum = state.buffer("sum", param, group.option("initial_accumulator_value"));
  state_sum.add_(mul(g, g));
  Tensor std_dev = add(sqrt(state_sum), eps);
  param.add_(div(g, std_dev), -clr);
}

}  // namespace kiln::nn::optim
