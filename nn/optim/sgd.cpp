// SGD's update rule, following torch 1.13's _single_tensor_sgd line by line:
//   d = ±grad + wd * p;  buf = d (first step) or momentum * buf + (1 - dampening) * d;
//   d = d + momentum * buf (nesterov) or buf;  p -= lr * d
#include "nn/optim/sgd.h"

#include "ops/binary.h"
#include "ops/unary.h"

namespace kiln::nn::optim {

SGD::SGD(const std::vector<Tensor>& params, const SGDOptions& options)
    : Optimizer("SGD", {{"lr", options.lr.value_or(-1.0)},
                        {"momentum", options.momentum},
                        {"dampening", options.dampening},
                        {"weight_decay", options.weight_decay},
                        {"nesterov", options.nesterov ? 1.0 : 0.0},
                        {"maximize", options.maximize ? 1.0 : 0.0}}) {
  KILN_CHECK(options.lr.has_value(), "SGD: a learning rate is required (SGDOptions{.lr = ...}); SGD has no default");
  add_param_group(params);
}

void SGD::check_options(const Options& o) const {
  check_non_negative(name(), "learning rate", o.at("lr"));
  check_non_negative(name(), "momentum value", o.at("momentum"));
  check_non_negative(name(), "weight_decay value", o.at("weight_decay"));
  KILN_CHECK(o.at("nesterov") == 0.0 || (o.at("momentum") > 0.0 && o.at("dampening") == 0.0),
             "SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum ", o.at("momentum"),
             " and dampening ", o.at("dampening"));
}

void SGD::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = group.lr(), momentum = group.option("momentum"), dampening = group.option("dampening"),
               weight_decay = group.option("weight_decay");
  Tensor d_p = group.flag("maximize") ? neg(grad) : grad;
  if (weight_decay != 0.0) d_p = add(d_p, param, weight_decay);
  if (momentum != 0.0) {
    auto it = state.buffers.find("momentum_buffer");
    Tensor buf;
    if (it == state.buffers.end()) {
      buf = d_p.clone();  // the first step's buffer is the (decayed) gradient itself
      state.buffers["momentum_buffer"] = buf;
    } else {
      buf = it->second;
      buf.mul_(momentum).add_(d_p, 1.0 - dampening);
    }
    d_p = group.flag("nesterov") ? add(d_p, buf, momentum) : buf;
  }
  param.add_(d_p, -lr);
}

}  // namespace kiln::nn::optim
