// CPU kernels of the fused activation gradients (ops/activation.h). Contiguous operands
// take a loop the compiler vectorises (a select, no branch: whether a unit was active is
// a coin flip to a branch predictor); others go through the strided elementwise loop.
#include "core/dtype.h"
#include "ops/cpu/loops.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/activation.h"

namespace kiln {

namespace {

template <typename T>
void threshold_backward_run(int64_t n, const T* __restrict grad, const T* __restrict x, T* __restrict out,
                            T threshold) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = grad[i];  // read whatever x says: a conditional load would keep the branch
    out[i] = x[i] > threshold ? g : T(0);
  }
}

void threshold_backward_cpu(const Tensor& out, const Tensor& grad, const Tensor& x, double threshold) {
  dispatch_floating_and_half(x.dtype(), "threshold_backward", [&]<typename T>() {
    const T t = T(threshold);
    if (grad.is_contiguous() && x.is_contiguous()) {
      const T *g = grad.data_ptr<T>(), *xp = x.data_ptr<T>();
      T* o = out.data_ptr<T>();
      cpu::parallel_for(0, out.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
        threshold_backward_run(end - begin, g + begin, xp + begin, o + begin, t);
      });
      return;
    }
    cpu::elementwise<T, T, T>(out, [t](T g, T v) { return v > t ? g : T(0); }, grad, x);
  });
}

}  // namespace

KILN_REGISTER_KERNEL(threshold_backward_stub, DeviceType::CPU, threshold_backward_cpu);

}  // namespace kiln
