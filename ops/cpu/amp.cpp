// CPU kernel of the fused unscale-and-check (ops/amp.cpp): one pass over a contiguous
// gradient, chunked over threads; each chunk notes whether it saw inf or NaN.
#include <atomic>
#include <cmath>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/amp.h"

namespace kiln {

namespace {

// grad: (n,) contiguous, in place; found_inf: float32 (1,).
void amp_unscale_forward_cpu(const Tensor& grad, const Tensor& found_inf, double inv_scale) {
  std::atomic<bool> any_non_finite{false};
  dispatch_floating_and_half(grad.dtype(), "amp_non_finite_check_and_unscale_", [&]<typename T>() {
    using Acc = opmath_t<T>;
    const Acc inv = Acc(inv_scale);
    T* p = grad.data_ptr<T>();
    cpu::parallel_for(0, grad.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      bool bad = false;
      for (int64_t i = begin; i < end; ++i) {
        const Acc v = Acc(p[i]);
        bad |= !std::isfinite(v);
        p[i] = T(v * inv);
      }
      if (bad) any_non_finite.store(true, std::memory_order_relaxed);
    });
  });
  if (any_non_finite.load()) found_inf.data_ptr<float>()[0] = 1.0f;
}

}  // namespace

KILN_REGISTER_KERNEL(amp_unscale_stub, DeviceType::CPU, amp_unscale_forward_cpu);

}  // namespace kiln
