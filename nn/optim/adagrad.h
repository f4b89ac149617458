// Adagrad with learning-rate decay, weight decay and maximize, as torch.optim.Adagrad
// (torch 1.13). The update rule is in nn/optim/adagrad.cpp.
#pragma once

#include "nn/optim/optimizer.h"

namespace kiln::nn::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  bool maximize = false;
};

class Adagrad : public Optimizer {
 public:
  explicit Adagrad(const std::vector<Tensor>& params, const AdagradOptions& options = {});

 protected:
  void check_options(const Options& options) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace kiln::nn::optim
