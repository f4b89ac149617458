// CUDA kernels of the fused optimizer updates (ops/optim.cpp): one grid-stride loop over
// a parameter and its state, the arithmetic of ops/cpu/optim.cpp operation for operation
// in the parameter's dtype (nvcc may contract a * b + c into an fma: last-bit differences).
#include <cmath>
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/math.cuh"
#include "cuda/runtime.h"
#include "ops/kernels/optim.h"

namespace kiln {

namespace {

// The per-step constants of Adam, computed on the host in double as on the CPU.
template <typename T>
struct AdamConsts {
  T decay, wd, b1, one_minus_b1, b2, one_minus_b2, bias_correction2_sqrt, step_size, eps;
  bool decoupled, l2, maximize;
};

// param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq (nullptr unless amsgrad): (n) contiguous.
template <typename T>
__global__ void adam_step_kernel1(T* p, const T* gr, T* m, T* v, T* vmax, int64_t n, AdamConsts<T> c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    T g = c.maximize ? -gr[i] : gr[i];
    T pi = p[i];
    if (c.decoupled) pi *= c.decay;
    if (c.l2) g = g + c.wd * pi;
    const T mi = m[i] * c.b1 + c.one_minus_b1 * g;
    const T vi = v[i] * c.b2 + c.one_minus_b2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if (vmax) {
      const T old = vmax[i];
      second = old < vi ? vi : old;  // std::max(old, vi)
      vmax[i] = second;
    }
    const T denom = cuda::math::sqrt(second) / c.bias_correction2_sqrt + c.eps;
    p[i] = pi + -c.step_size * (mi / denom);
  }
}

void adam_step_cuda(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                    const Tensor& max_exp_avg_sq, const AdamStep& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(param.device().index));
  dispatch_floating(param.dtype(), "adam_step", [&]<typename T>() {
    const double step = double(a.step);
    AdamConsts<T> c{T(1.0 - a.lr * a.weight_decay),
                    T(a.weight_decay),
                    T(a.beta1),
                    T(1.0 - a.beta1),
                    T(a.beta2),
                    T(1.0 - a.beta2),
                    T(std::sqrt(1.0 - std::pow(a.beta2, step))),
                    T(a.lr / (1.0 - std::pow(a.beta1, step))),
                    T(a.eps),
                    a.decoupled,
                    !a.decoupled && a.weight_decay != 0.0,
                    a.maximize};
    T* vmax = a.amsgrad ? max_exp_avg_sq.data_ptr<T>() : nullptr;
    const auto cfg = cuda::launch_config_1d(n);
    adam_step_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(param.device().index)>>>(
        param.data_ptr<T>(), grad.data_ptr<T>(), exp_avg.data_ptr<T>(), exp_avg_sq.data_ptr<T>(), vmax, n, c);
  });
  cuda::check_launch("adam_step (cuda)");
}

template <typename T>
struct SgdConsts {
  T lr, wd, momentum, damp;
  bool maximize, decay, nesterov, first;
};

// param, grad, momentum_buffer (nullptr when momentum == 0): (n) contiguous.
template <typename T>
__global__ void sgd_step_kernel1(T* p, const T* gr, T* buf, int64_t n, SgdConsts<T> c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const T pi = p[i];
    T d = c.maximize ? -gr[i] : gr[i];
    if (c.decay) d = d + c.wd * pi;
    if (buf) {
      const T b = c.first ? d : buf[i] * c.momentum + c.damp * d;
      buf[i] = b;
      d = c.nesterov ? d + c.momentum * b : b;
    }
    p[i] = pi + -c.lr * d;
  }
}

void sgd_step_cuda(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdStep& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(param.device().index));
  dispatch_floating(param.dtype(), "sgd_step", [&]<typename T>() {
    SgdConsts<T> c{T(a.lr), T(a.weight_decay), T(a.momentum), T(1.0 - a.dampening),
                   a.maximize, a.weight_decay != 0.0, a.nesterov, a.first_step};
    T* buf = a.momentum != 0.0 ? momentum_buffer.data_ptr<T>() : nullptr;
    const auto cfg = cuda::launch_config_1d(n);
    sgd_step_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(param.device().index)>>>(
        param.data_ptr<T>(), grad.data_ptr<T>(), buf, n, c);
  });
  cuda::check_launch("sgd_step (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(adam_step_stub, DeviceType::CUDA, adam_step_cuda);
KILN_REGISTER_KERNEL(sgd_step_stub, DeviceType::CUDA, sgd_step_cuda);

}  // namespace kiln
