// Fused activation gradients: argument checks and autograd; the kernels are in
// ops/cpu/activation.cpp and cuda/activation.cu.
#include "ops/activation.h"

#include "autograd/function.h"
#include "core/factory.h"
#include "ops/kernels/activation.h"

namespace kiln {

KILN_DEFINE_STUB(threshold_backward_stub, "threshold_backward",
                 void(const Tensor& out, const Tensor& grad, const Tensor& x, double threshold));

namespace {

struct ThresholdBackward : Function<ThresholdBackward> {
  static constexpr const char* kName = "threshold_backward";
  double threshold = 0;
  Tensor forward(const Tensor& grad, const Tensor& x, double threshold_) {
    KILN_CHECK(grad.shape() == x.shape() && grad.dtype() == x.dtype() && grad.device() == x.device(),
               "threshold_backward: expected grad and x of one shape, dtype and device, got ", grad.meta_str(),
               " and ", x.meta_str());
    KILN_CHECK(x.is_floating_point(),
               "threshold_backward: expected floating tensors (float32, float64, float16 or bfloat16), got ",
               x.meta_str());
    threshold = threshold_;
    save(x);
    Tensor out = empty(x.shape(), options_of(x));
    if (out.numel() > 0) threshold_backward_stub(x.device(), out, grad, x, threshold);
    return out;
  }
  // The output is grad masked by x's comparison: linear in grad with the same mask, and
  // piecewise constant in x (zero gradient, as PyTorch).
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {threshold_backward(g, x.detach(), threshold), Tensor()};
  }
};

}  // namespace

Tensor threshold_backward(const Tensor& grad, const Tensor& x, double threshold) {
  return apply<ThresholdBackward>(grad, x, threshold);
}

}  // namespace kiln
