// CUDA kernel of the fused unscale-and-check (ops/amp.cpp), the device twin of
// ops/cpu/amp.cpp: a grid-stride loop that multiplies each element by inv_scale and
// flags a non-finite one by writing 1 to found_inf (every writer writes the same value,
// so the race is harmless and needs no atomics).
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/amp.h"

namespace kiln {

namespace {

// grad: (n,) contiguous, in place; found_inf: (1,) float32.
template <typename T>
__global__ void amp_unscale_kernel1(T* grad, float* found_inf, int64_t n, opmath_t<T> inv_scale) {
  using Acc = opmath_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const Acc v = Acc(grad[i]);
    if (!isfinite(v)) *found_inf = 1.0f;
    grad[i] = T(v * inv_scale);
  }
}

void amp_unscale_forward_cuda(const Tensor& grad, const Tensor& found_inf, double inv_scale) {
  const int64_t n = grad.numel();
  KILN_CUDA_CHECK(cudaSetDevice(grad.device().index));
  dispatch_floating_and_half(grad.dtype(), "amp_non_finite_check_and_unscale_", [&]<typename T>() {
    const auto cfg = cuda::launch_config_1d(n);
    amp_unscale_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(grad.device().index)>>>(
        grad.data_ptr<T>(), found_inf.data_ptr<float>(), n, opmath_t<T>(inv_scale));
  });
  cuda::check_launch("amp_non_finite_check_and_unscale_ (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(amp_unscale_stub, DeviceType::CUDA, amp_unscale_forward_cuda);

}  // namespace kiln
