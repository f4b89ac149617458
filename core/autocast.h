// Autocast: a thread-local scope in which the matrix products run in a 16-bit dtype and
// the precision-sensitive ops (softmax, losses, norms, sums) in float32, as torch.autocast.
// The ops apply the policy through autocast_to_lower / autocast_to_float below.
#pragma once

#include <optional>

#include "core/device.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace kiln {

// Note [Autocast]
// Inside `AutocastGuard guard(DeviceType::CPU);` (bfloat16) or
// `AutocastGuard guard(DeviceType::CUDA);` (float16) ops on tensors of that device type
// follow PyTorch's autocast policy:
//   - lower precision: matmul, mm, bmm, addmm, linear (and the convolutions) cast their
//     float32 (and other 16-bit) inputs to the autocast dtype first (autocast_to_lower),
//     so they run and return in it;
//   - float32: softmax, log_softmax, the losses, layer_norm, sum and prod cast 16-bit
//     inputs to float32 (autocast_to_float) and return float32;
//   - every other op runs in whatever dtype its inputs have (type promotion as usual).
// float64 tensors and integer tensors are never cast, and the casts are the
// differentiable to(dtype), so backward brings each gradient back to its leaf's dtype
// (float32 parameters get float32 gradients). Unlike PyTorch, casts of the same weight
// are not cached within a scope: each use converts again.
// Guards nest: each saves the state of its device type and restores it when it ends;
// `AutocastGuard g(device, dtype, false)` turns autocast off inside an outer scope.
// The state is per thread (a DataLoader worker does not inherit it). PyTorch 1.13's CPU
// autocast takes bfloat16 only; kiln accepts float16 or bfloat16 on either device.

// bfloat16 on CPU, float16 on CUDA (PyTorch's defaults).
DType default_autocast_dtype(DeviceType device);
bool is_autocast_enabled(DeviceType device);
DType get_autocast_dtype(DeviceType device);  // the dtype the current scope uses (or would)

class AutocastGuard {
 public:
  // dtype: float16 or bfloat16 (an error otherwise); default_autocast_dtype(device) when
  // not given.
  explicit AutocastGuard(DeviceType device, std::optional<DType> dtype = std::nullopt, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  DeviceType device_;
  bool prev_enabled_;
  DType prev_dtype_;
};

// The policy helpers the ops call on each floating input (See Note [Autocast]); both
// return t itself outside a scope for t's device type, for undefined tensors, and for
// tensors they leave alone (float64, integers, or already the target dtype).
Tensor autocast_to_lower(const Tensor& t);  // float32/16-bit -> the autocast dtype
Tensor autocast_to_float(const Tensor& t);  // float16/bfloat16 -> float32

}  // namespace kiln
