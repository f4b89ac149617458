// SGD with momentum, dampening, Nesterov momentum, weight decay and maximize, as
// torch.optim.SGD (torch 1.13). The update rule is in nn/optim/sgd.cpp.
#pragma once

#include <optional>

#include "nn/optim/optimizer.h"

namespace kiln::nn::optim {

// PyTorch's SGD has no default learning rate: lr must be given.
//   SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
struct SGDOptions {
  std::optional<double> lr;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<Tensor>& params, const SGDOptions& options);

 protected:
  void check_options(const Options& options) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace kiln::nn::optim
