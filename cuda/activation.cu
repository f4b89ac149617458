// CUDA kernels of the fused activation gradients (ops/activation.h), on the elementwise
// iterator of cuda/loops.cuh; the device twins of ops/cpu/activation.cpp.
#include "core/dtype.h"
#include "cuda/loops.cuh"
#include "ops/kernels/activation.h"

namespace kiln {

namespace {

template <typename T>
struct ThresholdBackwardOp {
  T threshold;
  __device__ T operator()(T g, T x) const { return x > threshold ? g : T(0); }
};

void threshold_backward_cuda(const Tensor& out, const Tensor& grad, const Tensor& x, double threshold) {
  dispatch_floating_and_half(x.dtype(), "threshold_backward", [&]<typename T>() {
    cuda::elementwise<T, T, T>(out, ThresholdBackwardOp<T>{T(threshold)}, grad, x);
  });
}

}  // namespace

KILN_REGISTER_KERNEL(threshold_backward_stub, DeviceType::CUDA, threshold_backward_cuda);

}  // namespace kiln
