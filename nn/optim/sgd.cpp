// SGD's update rule, following torch 1.13's _single_tensor_sgd line by line:
//   d = ±grad + wd * p;  buf = d (first step) or momentum * buf + (1 - dampening) * d;
//   d = d + momentum * buf (nesterov) or buf;  p -= lr * d
// Each parameter is one pass of the fused kernel sgd_step_ (ops/optim.h).
#include "nn/optim/sgd.h"

#include "core/factory.h"
#include "ops/optim.h"

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
  const double momentum = group.option("momentum");
  Tensor buf;
  bool first_step = false;
  if (momentum != 0.0) {
    auto it = state.buffers.find("momentum_buffer");
    first_step = it == state.buffers.end();  // the first buffer is the (decayed) gradient itself
    buf = first_step ? (state.buffers["momentum_buffer"] = empty_like(param)) : it->second;
  }
  sgd_step_(param, grad, buf,
            {.lr = group.lr(),
             .momentum = momentum,
             .dampening = group.option("dampening"),
             .weight_decay = group.option("weight_decay"),
             .nesterov = group.flag("nesterov"),
             .maximize = group.flag("maximize"),
             .first_step = first_step});
}

}  // namespace kiln::nn::optim
