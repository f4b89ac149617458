// Adam and AdamW (decoupled weight decay), with amsgrad and maximize, as torch.optim.Adam
// and torch.optim.AdamW (torch 1.13). The update rules are in nn/optim/adam.cpp.
#pragma once

#include <utility>

#include "nn/optim/optimizer.h"

namespace kiln::nn::optim {

//   Adam opt(model.parameters(), {.lr = 3e-4, .betas = {0.9, 0.99}});
struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
};

// The same options with AdamW's default weight decay.
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  explicit Adam(const std::vector<Tensor>& params, const AdamOptions& options = {});

 protected:
  void check_options(const Options& options) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
};

class AdamW : public Optimizer {
 public:
  explicit AdamW(const std::vector<Tensor>& params, const AdamWOptions& options = {});

 protected:
  void check_options(const Options& options) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace kiln::nn::optim
