// The fused unscale-and-check of mixed-precision training: argument checks here, the
// kernels in ops/cpu/amp.cpp and cuda/amp.cu. nn/optim/grad_scaler.cpp is its user.
#include "ops/amp.h"

#include "autograd/grad_mode.h"
#include "core/dispatch.h"
#include "ops/kernels/amp.h"
#include "ops/view.h"

namespace kiln {

KILN_DEFINE_STUB(amp_unscale_stub, "amp_non_finite_check_and_unscale_",
                 void(const Tensor& grad, const Tensor& found_inf, double inv_scale));

void amp_non_finite_check_and_unscale_(const Tensor& grad, const Tensor& found_inf, double inv_scale) {
  constexpr const char* kOp = "amp_non_finite_check_and_unscale_";
  KILN_CHECK(grad.defined(), kOp, ": expected a defined gradient tensor");
  KILN_CHECK(grad.is_floating_point(), kOp, ": expected a floating gradient, got ", grad.meta_str());
  KILN_CHECK(found_inf.defined() && found_inf.dtype() == kFloat32 && found_inf.numel() == 1, kOp,
             ": expected found_inf as a one-element float32 tensor, got ",
             found_inf.defined() ? found_inf.meta_str() : std::string("an undefined tensor"));
  KILN_CHECK(found_inf.device() == grad.device(), kOp, ": expected found_inf on the gradient's device, got ",
             found_inf.meta_str(), " and ", grad.meta_str());
  if (grad.numel() == 0) return;
  NoGradGuard no_grad;
  if (grad.is_contiguous()) {
    amp_unscale_stub(grad.device(), grad, found_inf, inv_scale);
    return;
  }
  Tensor work = grad.contiguous();
  amp_unscale_stub(grad.device(), work, found_inf, inv_scale);
  copy_into(grad, work);
}

}  // namespace kiln
