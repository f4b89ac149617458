// Learning-rate schedulers with PyTorch's names, arguments and values: StepLR,
// MultiStepLR, ExponentialLR, CosineAnnealingLR, OneCycleLR, LinearLR. Each writes the lr
// of every parameter group of an optimizer; the formulas are in nn/optim/scheduler.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/optim/optimizer.h"

namespace kiln::nn::optim {

// Note [Scheduler steps]
// As in PyTorch, constructing a scheduler is its first step: last_epoch becomes 0 and
// the groups get the epoch-0 lr (LinearLR's start_factor * lr, OneCycleLR's
// max_lr / div_factor). Call step() after optimizer.step(): once per epoch, or once per
// batch for OneCycleLR. Schedulers that multiply the group's current lr (StepLR,
// MultiStepLR, ExponentialLR, LinearLR) use PyTorch's recursive ("chainable") form, so
// they give PyTorch's values to the last bit and compose when two are stacked.
// The scheduler keeps a reference to the optimizer, which must outlive it.
//
// Note [Scheduler state dict]
// state_dict() holds what a scheduler learns by stepping, as named tensors that a
// checkpoint stores beside the model's and the optimizer's:
//   last_epoch   int64 0-d
//   base_lrs     float64 (groups)
//   last_lr      float64 (groups)
// The constructor's arguments (step_size, T_max, ...) are not in it: to resume, build the
// optimizer and the scheduler as before, then load the optimizer's state (which restores
// each group's lr) and the scheduler's, as in PyTorch. load_state_dict checks every entry
// and the group count first and changes nothing when a check fails.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();  // advances last_epoch by one and writes the new lrs into the groups
  const std::vector<double>& get_last_lr() const { return last_lr_; }  // one per group
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  NamedTensors state_dict() const;  // See Note [Scheduler state dict]
  void load_state_dict(const NamedTensors& state);

 protected:
  // Records each group's initial_lr (its lr now, unless an earlier scheduler set it) as
  // the base lr. Derived constructors call step() last. See Note [Scheduler steps].
  explicit LRScheduler(Optimizer& optimizer);
  virtual std::vector<double> get_lr() = 0;  // the lrs for last_epoch_

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  std::vector<double> last_lr_;
};

// lr *= gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr *= gamma at each milestone epoch (gamma^k where a milestone is listed k times).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// lr *= gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() override;

 private:
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2, periodic in 2 T_max.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t T_max_;
  double eta_min_;
};

struct OneCycleOptions {
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // "cos" or "linear"
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

// The 1cycle policy, stepped once per batch for total_steps batches: lr rises from
// max_lr / div_factor to max_lr over pct_start of the steps, then anneals to
// initial_lr / final_div_factor (three_phase: back to initial_lr first, then down).
// One max_lr for every group, or one per group.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, const OneCycleOptions& options = {});
  OneCycleLR(Optimizer& optimizer, const std::vector<double>& max_lrs, int64_t total_steps,
             const OneCycleOptions& options = {});

 protected:
  std::vector<double> get_lr() override;

 private:
  // A phase anneals from start to end (which lr of {initial, max, min}) up to end_step.
  enum class Level { Initial, Max, Min };
  struct Phase {
    double end_step;
    Level start, end;
  };
  double level_lr(size_t group, Level level) const;

  int64_t total_steps_;
  OneCycleOptions options_;
  std::vector<Phase> phases_;
  std::vector<double> initial_lrs_, max_lrs_, min_lrs_;
};

// Linear warmup: the lr factor goes from start_factor to end_factor over total_iters
// epochs, then stays.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3.0, double end_factor = 1.0, int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;

 private:
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

}  // namespace kiln::nn::optim
