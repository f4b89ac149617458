// CUDA kernels of class_nll_loss (ops/nll.cpp), the device twins of ops/cpu/nll.cpp. The
// forward is one block walking every target, so its sums are added in a fixed order
// (cuda/block_reduce.cuh) and a launch gives the same bits every time; a target out of
// range is flagged on the device and reported when the sums come back to the host.
#include <cstdint>

#include "core/dispatch.h"
#include "core/factory.h"
#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "cuda/runtime.h"
#include "ops/kernels/nll.h"

namespace kiln {

namespace {

constexpr unsigned kThreads = 1024;

// out[0], out[1]: the sums of the losses and of the weights; out[2] = 1 and out[3] = the
// index when some target was out of range (any one of them, if several).
template <typename T>
__global__ void nll_forward_kernel(T* losses, double* out, const T* x, const int64_t* target, const T* weight,
                                   int64_t rows, int64_t classes, int64_t inner, int64_t ignore_index) {
  __shared__ double scratch[33];
  double loss_sum = 0, weight_sum = 0;
  const int64_t total = rows * inner;
  for (int64_t i = threadIdx.x; i < total; i += blockDim.x) {
    const int64_t t = target[i];
    if (t == ignore_index || t < 0 || t >= classes) {
      losses[i] = T(0);
      if (t != ignore_index) out[2] = 1, out[3] = double(t);
      continue;
    }
    const int64_t n = i / inner, s = i % inner;
    const T w = weight ? weight[t] : T(1);
    const T loss = -w * x[(n * classes + t) * inner + s];
    losses[i] = loss;
    loss_sum += double(loss);
    weight_sum += double(w);
  }
  loss_sum = cuda::block_sum(loss_sum, scratch);
  weight_sum = cuda::block_sum(weight_sum, scratch);
  if (threadIdx.x == 0) out[0] = loss_sum, out[1] = weight_sum;
}

__global__ void clear_flag_kernel(double* out) { out[2] = 0, out[3] = 0; }

void nll_forward_cuda(const Tensor& losses, const Tensor& totals, const Tensor& logp, const Tensor& target,
                      const Tensor& weight, int64_t ignore_index) {
  const int device = logp.device().index;
  KILN_CUDA_CHECK(cudaSetDevice(device));
  Tensor out = empty({4}, TensorOptions(DType::Float64).with_device(logp.device()));
  cudaStream_t stream = cuda::stream_for(device);
  clear_flag_kernel<<<1, 1, 0, stream>>>(out.data_ptr<double>());
  dispatch_floating(logp.dtype(), "nll_loss", [&]<typename T>() {
    nll_forward_kernel<T><<<1, kThreads, 0, stream>>>(
        losses.data_ptr<T>(), out.data_ptr<double>(), logp.data_ptr<T>(), target.data_ptr<int64_t>(),
        weight.defined() ? weight.data_ptr<T>() : nullptr, logp.size(0), logp.size(1), logp.size(2), ignore_index);
  });
  cuda::check_launch("nll_loss forward (cuda)");
  const Tensor host = out.to(Device::cpu());
  const double* h = host.data_ptr<double>();
  KILN_CHECK(h[2] == 0, "nll_loss: target class index ", int64_t(h[3]), " is out of range for ", logp.size(1),
             " classes (expected 0 <= index < ", logp.size(1), ", or ignore_index)");
  double* sums = totals.data_ptr<double>();
  sums[0] = h[0], sums[1] = h[1];
}

// dlogp was zeroed; one thread per target writes its class's entry.
template <typename T>
__global__ void nll_backward_kernel(T* dx, const T* grad, bool per_target, double divisor, const int64_t* target,
                                    const T* weight, int64_t rows, int64_t classes, int64_t inner,
                                    int64_t ignore_index) {
  const int64_t total = rows * inner;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = target[i];
    if (t == ignore_index || t < 0 || t >= classes) continue;  // the forward rejected the latter
    const int64_t n = i / inner, s = i % inner;
    const T g = per_target ? grad[i] : grad[0];
    dx[(n * classes + t) * inner + s] = -(weight ? weight[t] : T(1)) * (g / T(divisor));
  }
}

void nll_backward_cuda(const Tensor& dlogp, const Tensor& grad, double divisor, const Tensor& target,
                       const Tensor& weight, int64_t ignore_index) {
  const int device = dlogp.device().index;
  KILN_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t stream = cuda::stream_for(device);
  dispatch_floating(dlogp.dtype(), "nll_loss", [&]<typename T>() {
    KILN_CUDA_CHECK(cudaMemsetAsync(dlogp.data_ptr<T>(), 0, sizeof(T) * size_t(dlogp.numel()), stream));
    const int64_t total = dlogp.size(0) * dlogp.size(2);
    if (total == 0) return;
    const auto cfg = cuda::launch_config_1d(total);
    nll_backward_kernel<T><<<cfg.blocks, cfg.threads, 0, stream>>>(
        dlogp.data_ptr<T>(), grad.data_ptr<T>(), grad.numel() != 1, divisor, target.data_ptr<int64_t>(),
        weight.defined() ? weight.data_ptr<T>() : nullptr, dlogp.size(0), dlogp.size(1), dlogp.size(2),
        ignore_index);
  });
  cuda::check_launch("nll_loss backward (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(nll_forward_stub, DeviceType::CUDA, nll_forward_cuda);
KILN_REGISTER_KERNEL(nll_backward_stub, DeviceType::CUDA, nll_backward_cuda);

}  // namespace kiln
