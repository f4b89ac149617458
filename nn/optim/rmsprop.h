// RMSprop with momentum, centering, weight decay and maximize, as torch.optim.RMSprop
// (torch 1.13). The update rule is in nn/optim/rmsprop.cpp.
#pragma once

#include "nn/optim/optimizer.h"

namespace kiln::nn::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(const std::vector<Tensor>& params, const RMSpropOptions& options = {});

 protected:
  void check_options(const Options& options) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace kiln::nn::optim
