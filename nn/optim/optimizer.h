// Optimizer: the base of kiln's optimizers (nn/optim/sgd.h, adam.h, rmsprop.h, adagrad.h):
// parameter groups with their own hyperparameters, per-parameter state, zero_grad/step
// and a flat state dict. Read nn/optim/sgd.cpp next for the simplest update rule.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace kiln::nn::optim {

// Hyperparameters by name, as in PyTorch's param_group dicts: "lr", "momentum", "beta1",
// "beta2", ... Booleans (nesterov, amsgrad, centered, maximize) are stored as 0 or 1.
using Options = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  Options options;
  // The lr the first scheduler attached saw (PyTorch's group['initial_lr']); schedulers
  // that decay from a base lr (CosineAnnealingLR) start from it.
  std::optional<double> initial_lr;

  double lr() const { return option("lr"); }
  void set_lr(double lr) { options["lr"] = lr; }
  double option(const std::string& name) const;  // an error names a missing option
  bool flag(const std::string& name) const { return option(name) != 0.0; }
};

// What an optimizer keeps per parameter between steps: how many steps updated it and
// named buffers of the parameter's shape (exp_avg, momentum_buffer, ...).
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;

  // The buffer `name`, created on first use as a tensor like `param` filled with `fill`.
  Tensor& buffer(const std::string& name, const Tensor& param, double fill = 0.0);
};

// Note [Optimizer state dict]
// state_dict() is a flat list of named tensors, so a checkpoint can store it in a
// safetensors file next to the model's:
//   param_groups.<g>.params     int64 (n): the global indices of the group's parameters
//   param_groups.<g>.<option>   float64 0-d: each hyperparameter (lr, momentum, ...)
//   state.<g>.<i>.step          int64 0-d: steps taken by parameter i of group g
//   state.<g>.<i>.<buffer>      the buffer itself (exp_avg, momentum_buffer, ...)
// A parameter that has not been stepped yet has no state.<g>.<i> entries. The buffers
// returned are the live ones (as PyTorch's state_dict); load_state_dict copies, checks
// that groups, parameter counts, option names and buffer shapes match this optimizer,
// and changes nothing when a check fails.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& name() const { return name_; }  // "SGD", "Adam", ...
  const Options& defaults() const { return defaults_; }
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  // Adds `params` as a new group whose options are the defaults with `overrides` applied,
  // as PyTorch's add_param_group({"params": ..., "lr": 0.01}).
  void add_param_group(const std::vector<Tensor>& params, const Options& overrides = {});

  void zero_grad();  // drops every parameter's .grad (PyTorch's set_to_none=True)
  // One update of every parameter that has a grad, under NoGradGuard; parameters whose
  // grad is undefined are skipped (and their step count does not advance).
  void step();

  ParamState& state(size_t group, size_t index);

  NamedTensors state_dict() const;  // See Note [Optimizer state dict]
  void load_state_dict(const NamedTensors& state);

 protected:
  Optimizer(std::string name, Options defaults);
  // Checks one group's hyperparameters; errors name the optimizer and the bad value.
  virtual void check_options(const Options& options) const = 0;
  // Updates `param` in place from `grad`. Runs under NoGradGuard; state.step has already
  // been incremented for this step.
  virtual void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) = 0;

 private:
  std::string name_;
  Options defaults_;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // state_[g][i] for groups_[g].params[i]
};

// Hyperparameter checks shared by the optimizers: KILN_CHECK(value >= 0) with a message
// "<optimizer>: invalid <what> <value>, expected ...".
void check_non_negative(const std::string& optimizer, const char* what, double value);
void check_in_unit_interval(const std::string& optimizer, const char* what, double value);  // [0, 1)

}  // namespace kiln::nn::optim
