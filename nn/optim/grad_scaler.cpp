// GradScaler: the loss-scale bookkeeping of mixed-precision training (See Note [Dynamic
// loss scaling] in nn/optim/grad_scaler.h). The per-gradient work is one fused kernel,
// amp_non_finite_check_and_unscale_ (ops/amp.cpp).
#include "nn/optim/grad_scaler.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/amp.h"
#include "ops/binary.h"

namespace kiln::nn::optim {

GradScaler::GradScaler(const GradScalerOptions& options)
    : scale_(float(options.init_scale)),
      growth_factor_(options.growth_factor),
      backoff_factor_(options.backoff_factor),
      growth_interval_(options.growth_interval),
      enabled_(options.enabled) {
  KILN_CHECK(std::isfinite(options.init_scale) && options.init_scale > 0.0 && std::isfinite(scale_),
             "GradScaler: expected init_scale > 0 and finite in float32, got ", options.init_scale);
  check_factors(growth_factor_, backoff_factor_, growth_interval_);
}

void GradScaler::check_factors(double growth, double backoff, int64_t interval) const {
  KILN_CHECK(growth > 1.0 && std::isfinite(growth), "GradScaler: expected growth_factor > 1, got ", growth);
  KILN_CHECK(backoff > 0.0 && backoff < 1.0, "GradScaler: expected backoff_factor in (0, 1), got ", backoff);
  KILN_CHECK(interval > 0, "GradScaler: expected growth_interval > 0, got ", interval);
}

void GradScaler::set_growth_factor(double v) {
  check_factors(v, backoff_factor_, growth_interval_);
  growth_factor_ = v;
}
void GradScaler::set_backoff_factor(double v) {
  check_factors(growth_factor_, v, growth_interval_);
  backoff_factor_ = v;
}
void GradScaler::set_growth_interval(int64_t v) {
  check_factors(growth_factor_, backoff_factor_, v);
  growth_interval_ = v;
}

double GradScaler::get_scale() const { return enabled_ ? double(scale_) : 1.0; }

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!enabled_) return loss;
  KILN_CHECK(loss.defined() && loss.is_floating_point(), "GradScaler.scale: expected a floating loss, got ",
             loss.defined() ? loss.meta_str() : std::string("an undefined tensor"));
  return loss * double(scale_);
}

GradScaler::OptimizerState& GradScaler::state_of(const Optimizer& optimizer) { return per_optimizer_[&optimizer]; }

void GradScaler::unscale_(Optimizer& optimizer) {
  if (!enabled_) return;
  OptimizerState& st = state_of(optimizer);
  KILN_CHECK(st.stage != Stage::Unscaled,
             "GradScaler.unscale_: unscale_() has already been called on this optimizer since the last update()");
  KILN_CHECK(st.stage != Stage::Stepped, "GradScaler.unscale_: unscale_() is being called after step()");
  // The reciprocal in float64, rounded to float32, as PyTorch's scale.double().reciprocal().float().
  const double inv_scale = double(float(1.0 / double(scale_)));
  NoGradGuard no_grad;
  std::vector<Tensor> found;
  auto found_for = [&](Device device) -> const Tensor& {
    for (const Tensor& f : found) {
      if (f.device() == device) return f;
    }
    found.push_back(zeros({1}, TensorOptions(kFloat32).with_device(device)));
    return found.back();
  };
  for (const ParamGroup& group : optimizer.param_groups()) {
    for (const Tensor& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      KILN_CHECK(g.dtype() != kFloat16, "GradScaler.unscale_: attempting to unscale float16 gradients (",
                 g.meta_str(), "); keep the parameters in float32 and let autocast run the 16-bit ops");
      amp_non_finite_check_and_unscale_(g, found_for(g.device()), inv_scale);
    }
  }
  st.found_inf = std::move(found);
  st.stage = Stage::Unscaled;
}

bool GradScaler::step(Optimizer& optimizer) {
  if (!enabled_) {
    optimizer.step();
    return true;
  }
  OptimizerState& st = state_of(optimizer);
  KILN_CHECK(st.stage != Stage::Stepped,
             "GradScaler.step: step() has already been called on this optimizer since the last update()");
  if (st.stage == Stage::Ready) unscale_(optimizer);
  KILN_CHECK(!st.found_inf.empty(), "GradScaler.step: no inf checks were recorded for this optimizer (no parameter "
                                    "has a gradient; did backward run?)");
  double any_inf = 0.0;
  for (const Tensor& f : st.found_inf) any_inf += f.item<double>();
  const bool stepped = any_inf == 0.0;
  if (stepped) optimizer.step();
  st.stage = Stage::Stepped;
  return stepped;
}

void GradScaler::update() {
  if (!enabled_) return;
  bool recorded = false, any_inf = false;
  for (const auto& [opt, st] : per_optimizer_) {
    for (const Tensor& f : st.found_inf) {
      recorded = true;
      any_inf = any_inf || f.item<double>() != 0.0;
    }
  }
  KILN_CHECK(recorded, "GradScaler.update: no inf checks were recorded prior to update() (call unscale_() or "
                       "step() first)");
  if (any_inf) {
    scale_ = float(double(scale_) * backoff_factor_);
    growth_tracker_ = 0;
  } else if (growth_tracker_ + 1 == growth_interval_) {
    const float grown = float(double(scale_) * growth_factor_);
    if (std::isfinite(grown)) scale_ = grown;  // as PyTorch: a scale that would overflow stays
    growth_tracker_ = 0;
  } else {
    ++growth_tracker_;
  }
  per_optimizer_.clear();
}

void GradScaler::update(double new_scale) {
  if (!enabled_) return;
  KILN_CHECK(new_scale > 0.0 && std::isfinite(float(new_scale)),
             "GradScaler.update: expected new_scale > 0 and finite in float32, got ", new_scale);
  scale_ = float(new_scale);
  per_optimizer_.clear();
}

NamedTensors GradScaler::state_dict() const {
  if (!enabled_) return {};
  TensorOptions f64(kFloat64), i64(kInt64);
  return {{"scale", full({}, double(scale_), f64)},
          {"growth_factor", full({}, growth_factor_, f64)},
          {"backoff_factor", full({}, backoff_factor_, f64)},
          {"growth_interval", full({}, double(growth_interval_), i64)},
          {"_growth_tracker", full({}, double(growth_tracker_), i64)}};
}

void GradScaler::load_state_dict(const NamedTensors& state) {
  if (!enabled_) return;
  constexpr const char* kOp = "GradScaler.load_state_dict";
  KILN_CHECK(!state.empty(), kOp, ": the state dict is empty, possibly because it was saved from a disabled "
                                  "GradScaler");
  std::map<std::string, double> values;
  for (const auto& [name, t] : state) {
    KILN_CHECK(name == "scale" || name == "growth_factor" || name == "backoff_factor" || name == "growth_interval" ||
                   name == "_growth_tracker",
               kOp, ": unexpected key '", name,
               "'; expected scale, growth_factor, backoff_factor, growth_interval and _growth_tracker");
    KILN_CHECK(t.defined() && t.numel() == 1, kOp, ": '", name, "' should be a single value, got ",
               t.defined() ? t.meta_str() : std::string("an undefined tensor"));
    values[name] = t.item<double>();
  }
  for (const char* key : {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}) {
    KILN_CHECK(values.count(key), kOp, ": the state dict has no '", key, "'");
  }
  const double scale = values["scale"], interval = values["growth_interval"], tracker = values["_growth_tracker"];
  KILN_CHECK(scale > 0.0 && std::isfinite(float(scale)), kOp, ": expected scale > 0 and finite in float32, got ",
             scale);
  KILN_CHECK(interval == std::floor(interval) && interval > 0 && interval < 9.0e18, kOp,
             ": expected growth_interval as a positive integer, got ", interval);
  check_factors(values["growth_factor"], values["backoff_factor"], int64_t(interval));
  KILN_CHECK(tracker == std::floor(tracker) && tracker >= 0 && tracker < interval, kOp,
             ": expected _growth_tracker as an integer in [0, growth_interval), got ", tracker);
  scale_ = float(scale);
  growth_factor_ = values["growth_factor"];
  backoff_factor_ = values["backoff_factor"];
  growth_interval_ = int64_t(interval);
  growth_tracker_ = int64_t(tracker);
}

}  // namespace kiln::nn::optim
