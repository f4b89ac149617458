// The thread-local autocast state and the two casts ops apply under it (See Note
// [Autocast] in core/autocast.h).
#include "core/autocast.h"

namespace kiln {

DType default_autocast_dtype(DeviceType device) {
  return device == DeviceType::CUDA ? DType::Float16 : DType::BFloat16;
}

namespace {

struct AutocastState {
  bool enabled = false;
  DType dtype;
};

thread_local AutocastState autocast_state[kNumDeviceTypes] = {{false, default_autocast_dtype(DeviceType::CPU)},
                                                               {false, default_autocast_dtype(DeviceType::CUDA)}};

AutocastState& state_of(DeviceType device) { return autocast_state[static_cast<int>(device)]; }

}  // namespace

bool is_autocast_enabled(DeviceType device) { return state_of(device).enabled; }
DType get_autocast_dtype(DeviceType device) { return state_of(device).dtype; }

AutocastGuard::AutocastGuard(DeviceType device, std::optional<DType> dtype, bool enabled) : device_(device) {
  const DType d = dtype.value_or(default_autocast_dtype(device));
  KILN_CHECK(d == DType::Float16 || d == DType::BFloat16,
             "AutocastGuard: expected float16 or bfloat16 as the autocast dtype, got ", dtype_name(d));
  AutocastState& st = state_of(device);
  prev_enabled_ = st.enabled, prev_dtype_ = st.dtype;
  st.enabled = enabled, st.dtype = d;
}

AutocastGuard::~AutocastGuard() {
  AutocastState& st = state_of(device_);
  st.enabled = prev_enabled_, st.dtype = prev_dtype_;
}

Tensor autocast_to_lower(const Tensor& t) {
  if (!t.defined()) return t;
  const AutocastState& st = state_of(t.device().type);
  const DType d = t.dtype();
  if (!st.enabled || !is_floating(d) || d == DType::Float64 || d == st.dtype) return t;
  return t.to(st.dtype);
}

Tensor autocast_to_float(const Tensor& t) {
  if (!t.defined() || !state_of(t.device().type).enabled) return t;
  const DType d = t.dtype();
  return d == DType::Float16 || d == DType::BFloat16 ? t.to(DType::Float32) : t;
}

}  // namespace kiln
