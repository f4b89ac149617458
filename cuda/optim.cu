// CUDA kernels of the fused optimizer updates (ops/optim.cpp): one grid-stride loop over
// a parameter and its state, calling the element formulas of ops/kernels/optim.h that the
// CPU kernels call too (nvcc may contract a * b + c into an fma: last-bit differences).
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/optim.h"

namespace kiln {

namespace {

// param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq (nullptr unless amsgrad): (n) contiguous.
template <typename T>
__global__ void adam_step_kernel1(T* p, const T* gr, T* m, T* v, T* vmax, int64_t n, AdamConstants<T> c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adam_update_element(i, p, gr, m, v, vmax, c, c.decoupled, c.l2, c.amsgrad, c.maximize);
}

void adam_step_cuda(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                    const Tensor& max_exp_avg_sq, const AdamStep& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(param.device().index));
  dispatch_floating(param.dtype(), "adam_step", [&]<typename T>() {
    T* vmax = a.amsgrad ? max_exp_avg_sq.data_ptr<T>() : nullptr;
    const auto cfg = cuda::launch_config_1d(n);
    adam_step_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(param.device().index)>>>(
        param.data_ptr<T>(), grad.data_ptr<T>(), exp_avg.data_ptr<T>(), exp_avg_sq.data_ptr<T>(), vmax, n,
        adam_constants<T>(a));
  });
  cuda::check_launch("adam_step (cuda)");
}

// param, grad, momentum_buffer (nullptr when momentum == 0): (n) contiguous.
template <typename T>
__global__ void sgd_step_kernel1(T* p, const T* gr, T* buf, int64_t n, SgdConstants<T> c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    sgd_update_element(i, p, gr, buf, c);
}

void sgd_step_cuda(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdStep& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(param.device().index));
  dispatch_floating(param.dtype(), "sgd_step", [&]<typename T>() {
    T* buf = a.momentum != 0.0 ? momentum_buffer.data_ptr<T>() : nullptr;
    const auto cfg = cuda::launch_config_1d(n);
    sgd_step_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(param.device().index)>>>(
        param.data_ptr<T>(), grad.data_ptr<T>(), buf, n, sgd_constants<T>(a));
  });
  cuda::check_launch("sgd_step (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(adam_step_stub, DeviceType::CUDA, adam_step_cuda);
KILN_REGISTER_KERNEL(sgd_step_stub, DeviceType::CUDA, sgd_step_cuda);

}  // namespace kiln
