// The learning-rate schedulers' formulas, following torch 1.13's lr_scheduler.py
// get_lr() methods (see Note [Scheduler steps] in nn/optim/scheduler.h).
#include "nn/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "core/factory.h"

namespace kiln::nn::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (ParamGroup& g : optimizer_.param_groups()) {
    if (!g.initial_lr) g.initial_lr = g.lr();
    base_lrs_.push_back(*g.initial_lr);
  }
}

void LRScheduler::step() {
  last_epoch_ += 1;
  std::vector<double> lrs = get_lr();
  auto& groups = optimizer_.param_groups();
  KILN_CHECK(lrs.size() == groups.size(), "LRScheduler: the optimizer has ", groups.size(),
             " parameter groups, but the scheduler was made for ", lrs.size(),
             "; make the scheduler after adding every group");
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_lr(lrs[g]);
  last_lr_ = std::move(lrs);
}

NamedTensors LRScheduler::state_dict() const {
  return {{"last_epoch", scalar_tensor(double(last_epoch_), DType::Int64)},
          {"base_lrs", tensor(base_lrs_)},
          {"last_lr", tensor(last_lr_)}};
}

void LRScheduler::load_state_dict(const NamedTensors& state) {
  const char* op = "LRScheduler.load_state_dict";
  const size_t groups = base_lrs_.size();
  std::optional<int64_t> last_epoch;
  std::optional<std::vector<double>> base_lrs, last_lr;
  for (const auto& [name, t] : state) {
    KILN_CHECK(t.defined(), op, ": '", name, "' is an undefined tensor");
    if (name == "last_epoch") {
      KILN_CHECK(t.numel() == 1, op, ": 'last_epoch' should be a single value, got ", t.meta_str());
      last_epoch = int64_t(t.item<double>());
      continue;
    }
    KILN_CHECK(name == "base_lrs" || name == "last_lr", op, ": unexpected entry '", name,
               "' (a scheduler's state has last_epoch, base_lrs and last_lr)");
    KILN_CHECK(t.dim() == 1 && size_t(t.numel()) == groups, op, ": '", name, "' should hold one lr per parameter group (",
               groups, "), got ", t.meta_str());
    Tensor values = t.detach().to(Device::cpu()).to(DType::Float64).contiguous();
    const double* p = values.data_ptr<double>();
    (name == "base_lrs" ? base_lrs : last_lr) = std::vector<double>(p, p + groups);
  }
  KILN_CHECK(last_epoch && base_lrs && last_lr, op, ": the state is missing ",
             !last_epoch ? "'last_epoch'" : !base_lrs ? "'base_lrs'" : "'last_lr'");
  last_epoch_ = *last_epoch;
  base_lrs_ = std::move(*base_lrs);
  last_lr_ = std::move(*last_lr);
}

namespace {

// Each group's current lr times `factor`.
std::vector<double> scaled_lrs(const Optimizer& optimizer, double factor) {
  std::vector<double> out;
  for (const ParamGroup& g : optimizer.param_groups()) out.push_back(g.lr() * factor);
  return out;
}

}  // namespace

// ---- StepLR ----

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  KILN_CHECK(step_size >= 1, "StepLR: expected step_size >= 1, got ", step_size);
  step();
}

std::vector<double> StepLR::get_lr() {
  bool decay = last_epoch_ != 0 && last_epoch_ % step_size_ == 0;
  return scaled_lrs(optimizer_, decay ? gamma_ : 1.0);
}

// ---- MultiStepLR ----

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  step();
}

std::vector<double> MultiStepLR::get_lr() {
  auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  return scaled_lrs(optimizer_, hits == 0 ? 1.0 : std::pow(gamma_, double(hits)));
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) { step(); }

std::vector<double> ExponentialLR::get_lr() { return scaled_lrs(optimizer_, last_epoch_ == 0 ? 1.0 : gamma_); }

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  KILN_CHECK(T_max >= 1, "CosineAnnealingLR: expected T_max >= 1, got ", T_max);
  step();
}

// NOTE: PyTorch's get_lr() is recursive (each lr from the previous one); it equals this
// closed form (PyTorch's _get_closed_form_lr) up to rounding, about 1e-16 relative, and the
// closed form does not accumulate error over long runs. It is also periodic past T_max,
// as the recursive form is.
std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> out;
  const double c = std::cos(std::numbers::pi * double(last_epoch_) / double(T_max_));
  for (double base_lr : base_lrs_) out.push_back(eta_min_ + (base_lr - eta_min_) * (1.0 + c) / 2.0);
  return out;
}

// ---- OneCycleLR ----
// Momentum cycling (PyTorch's cycle_momentum, on by default there) is not done: the
// optimizer's momentum/beta1 stay as set. Matches PyTorch with cycle_momentum=False.

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, const OneCycleOptions& options)
    : OneCycleLR(optimizer, std::vector<double>(optimizer.param_groups().size(), max_lr), total_steps, options) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, const std::vector<double>& max_lrs, int64_t total_steps,
                       const OneCycleOptions& options)
    : LRScheduler(optimizer), total_steps_(total_steps), options_(options), max_lrs_(max_lrs) {
  KILN_CHECK(total_steps > 0, "OneCycleLR: expected a positive total_steps, got ", total_steps);
  KILN_CHECK(options.pct_start >= 0.0 && options.pct_start <= 1.0,
             "OneCycleLR: expected pct_start between 0 and 1, got ", options.pct_start);
  KILN_CHECK(options.anneal_strategy == "cos" || options.anneal_strategy == "linear",
             "OneCycleLR: anneal_strategy must be \"cos\" or \"linear\", got \"", options.anneal_strategy, "\"");
  auto& groups = optimizer_.param_groups();
  KILN_CHECK(max_lrs.size() == groups.size(), "OneCycleLR: expected ", groups.size(), " values for max_lr, got ",
             max_lrs.size());
  const double total = double(total_steps), pct = options.pct_start;
  if (options.three_phase) {
    phases_ = {{pct * total - 1.0, Level::Initial, Level::Max},
               {2.0 * pct * total - 2.0, Level::Max, Level::Initial},
               {total - 1.0, Level::Initial, Level::Min}};
  } else {
    phases_ = {{pct * total - 1.0, Level::Initial, Level::Max}, {total - 1.0, Level::Max, Level::Min}};
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    initial_lrs_.push_back(max_lrs[g] / options.div_factor);
    min_lrs_.push_back(initial_lrs_[g] / options.final_div_factor);
    groups[g].initial_lr = initial_lrs_[g];
    base_lrs_[g] = initial_lrs_[g];
  }
  step();
}

double OneCycleLR::level_lr(size_t group, Level level) const {
  switch (level) {
    case Level::Initial: return initial_lrs_[group];
    case Level::Max: return max_lrs_[group];
    case Level::Min: return min_lrs_[group];
  }
  return 0.0;
}

std::vector<double> OneCycleLR::get_lr() {
  KILN_CHECK(last_epoch_ <= total_steps_, "OneCycleLR: tried to step ", last_epoch_ + 1,
             " times; the specified number of total steps is ", total_steps_);
  const double step_num = double(last_epoch_);
  std::vector<double> out;
  for (size_t g = 0; g < max_lrs_.size(); ++g) {
    double start_step = 0.0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (step_num <= phase.end_step || i + 1 == phases_.size()) {
        const double pct = (step_num - start_step) / (phase.end_step - start_step);
        const double start = level_lr(g, phase.start), end = level_lr(g, phase.end);
        if (options_.anneal_strategy == "cos") {
          out.push_back(end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0));
        } else {
          out.push_back((end - start) * pct + start);
        }
        break;
      }
      start_step = phase.end_step;
    }
  }
  return out;
}

// ---- LinearLR ----

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  KILN_CHECK(start_factor > 0.0 && start_factor <= 1.0,
             "LinearLR: expected start_factor in (0, 1], got ", start_factor);
  KILN_CHECK(end_factor >= 0.0 && end_factor <= 1.0, "LinearLR: expected end_factor in [0, 1], got ", end_factor);
  KILN_CHECK(total_iters >= 1, "LinearLR: expected total_iters >= 1, got ", total_iters);
  step();
}

// Recursive form: the factor moves from f(t-1) to f(t) = start + (end - start) t / total,
// so lr_t = lr_{t-1} * f(t) / f(t-1) = lr_{t-1} (1 + (end - start) / (total start + (t-1)(end - start))).
std::vector<double> LinearLR::get_lr() {
  if (last_epoch_ == 0) return scaled_lrs(optimizer_, start_factor_);
  if (last_epoch_ > total_iters_) return scaled_lrs(optimizer_, 1.0);
  const double delta = end_factor_ - start_factor_;
  return scaled_lrs(optimizer_, 1.0 + delta / (double(total_iters_) * start_factor_ + double(last_epoch_ - 1) * delta));
}

}  // namespace kiln::nn::optim
