// GradScaler: dynamic loss scaling for mixed-precision training, as
// torch.cuda.amp.GradScaler (torch 1.13). The unscale-and-check kernel is
// amp_non_finite_check_and_unscale_ (ops/amp.h); autocast is core/autocast.h.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"

namespace kiln::nn::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;   // > 1
  double backoff_factor = 0.5;  // in (0, 1)
  int64_t growth_interval = 2000;  // > 0
  bool enabled = true;
};

// Note [Dynamic loss scaling]
// A float16 gradient underflows to 0 below 2^-24, so the loss is multiplied by a large
// scale before backward and every gradient is divided by it before the optimizer sees
// it. The scale adapts:
//   - a step whose gradients hold any inf or NaN is skipped (the parameters and the
//     optimizer's state stay as they were) and the scale is multiplied by
//     backoff_factor, and the count of clean steps restarts at 0;
//   - after growth_interval clean steps in a row the scale is multiplied by
//     growth_factor (unless that overflows float32) and the count restarts at 0.
// The scale is a float32 value as in PyTorch; with the default factors (powers of two)
// it is always a power of two, so scaling and unscaling are exact.
//
// One iteration, as in PyTorch:
//   scaler.scale(loss).backward();
//   scaler.unscale_(opt);            // optional: only to clip or inspect gradients
//   scaler.step(opt);                // unscales if not done yet; skips on inf/NaN
//   scaler.update();                 // adjusts the scale for the next iteration
// With several optimizers, each gets unscale_ / step and update() runs once after all
// of them: any inf seen by any of them backs the scale off. A disabled scaler makes
// scale() return the loss, step() call optimizer.step(), and the rest do nothing.
class GradScaler {
 public:
  explicit GradScaler(const GradScalerOptions& options = {});

  // loss * scale (float32 arithmetic for a float32 loss); the loss itself when disabled.
  Tensor scale(const Tensor& loss) const;
  // Divides every gradient of `optimizer`'s parameters by the scale in place and records
  // whether any held inf or NaN. At most once per optimizer between update()s, and not
  // after step(): either is an error. float16 gradients are an error, as in PyTorch
  // (keep float32 parameters and let autocast produce the 16-bit activations).
  void unscale_(Optimizer& optimizer);
  // unscale_(optimizer) unless already done, then optimizer.step() if no gradient held
  // inf or NaN. Returns whether the optimizer stepped. Once per optimizer between
  // update()s.
  bool step(Optimizer& optimizer);
  // Adjusts the scale from the checks recorded since the last update (See Note [Dynamic
  // loss scaling]) and forgets them; an error when no optimizer was unscaled or stepped.
  void update();
  // Sets the scale to new_scale (> 0) instead, as update(new_scale) in PyTorch; the
  // growth tracker is left as it is.
  void update(double new_scale);

  double get_scale() const;  // the current scale; 1.0 when disabled
  double get_growth_factor() const { return growth_factor_; }
  void set_growth_factor(double v);
  double get_backoff_factor() const { return backoff_factor_; }
  void set_backoff_factor(double v);
  int64_t get_growth_interval() const { return growth_interval_; }
  void set_growth_interval(int64_t v);
  int64_t growth_tracker() const { return growth_tracker_; }  // clean steps since the last change
  bool is_enabled() const { return enabled_; }

  // Five 0-d tensors, PyTorch's keys: scale, growth_factor, backoff_factor (float64),
  // growth_interval, _growth_tracker (int64). Empty when disabled.
  NamedTensors state_dict() const;
  // Restores the five values (all must be present and valid; nothing changes on an
  // error). Ignored by a disabled scaler; an empty state (saved from a disabled one)
  // is an error for an enabled one.
  void load_state_dict(const NamedTensors& state);

 private:
  enum class Stage { Ready, Unscaled, Stepped };
  struct OptimizerState {
    Stage stage = Stage::Ready;
    std::vector<Tensor> found_inf;  // one float32 (1,) per device of the gradients
  };
  OptimizerState& state_of(const Optimizer& optimizer);
  void check_factors(double growth, double backoff, int64_t interval) const;

  float scale_;
  double growth_factor_, backoff_factor_;
  int64_t growth_interval_;
  int64_t growth_tracker_ = 0;
  bool enabled_;
  std::map<const Optimizer*, OptimizerState> per_optimizer_;
};

}  // namespace kiln::nn::optim
