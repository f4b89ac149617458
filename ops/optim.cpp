// The fused optimizer updates: argument checks, then one kernel per parameter. Operands
// that are not contiguous (a parameter that is a strided view, a broadcast gradient) go
// through contiguous copies, and the parameter's copy is written back.
#include "ops/optim.h"

#include "core/error.h"
#include "ops/kernels/optim.h"

namespace kiln {

KILN_DEFINE_STUB(adam_step_stub, "adam_step", AdamStepKernel);
KILN_DEFINE_STUB(sgd_step_stub, "sgd_step", SgdStepKernel);

namespace {

// Every defined operand: same shape, dtype and device as param; floating.
void check_operands(const char* op, const Tensor& param, std::initializer_list<std::pair<const char*, Tensor>> others) {
  KILN_CHECK(param.defined() && is_floating(param.dtype()), op, ": expected a floating-point parameter, got ",
             param.defined() ? param.meta_str() : std::string("an undefined tensor"));
  for (const auto& [name, t] : others) {
    if (!t.defined()) continue;
    KILN_CHECK(t.shape() == param.shape() && t.dtype() == param.dtype() && t.device() == param.device(), op, ": ",
               name, " ", t.meta_str(), " does not match the parameter ", param.meta_str());
  }
}

// Runs `kernel(contiguous operands...)`; buffers the optimizer owns are contiguous
// already. A non-contiguous parameter is updated through a copy written back.
template <typename Kernel>
void with_contiguous_param(const Tensor& param, const Kernel& kernel) {
  if (param.is_contiguous()) {
    kernel(param);
  } else {
    Tensor p = param.contiguous();
    kernel(p);
    Tensor dst = param;  // a handle to the same tensor
    dst.copy_(p);
  }
}

}  // namespace

void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, const AdamStep& args) {
  const char* op = "adam_step_";
  check_operands(op, param, {{"grad", grad}, {"exp_avg", exp_avg}, {"exp_avg_sq", exp_avg_sq},
                             {"max_exp_avg_sq", max_exp_avg_sq}});
  KILN_CHECK(grad.defined() && exp_avg.defined() && exp_avg_sq.defined(), op,
             ": grad, exp_avg and exp_avg_sq are required");
  KILN_CHECK(args.amsgrad == max_exp_avg_sq.defined(), op, ": max_exp_avg_sq is needed exactly when amsgrad is on");
  KILN_CHECK(args.step >= 1, op, ": step counts from 1, got ", args.step);
  KILN_CHECK(exp_avg.is_contiguous() && exp_avg_sq.is_contiguous() &&
                 (!max_exp_avg_sq.defined() || max_exp_avg_sq.is_contiguous()),
             op, ": the state buffers must be contiguous");
  Tensor g = grad.contiguous();
  with_contiguous_param(param, [&](const Tensor& p) {
    adam_step_stub(p.device(), p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, args);
  });
  param.bump_version();
  exp_avg.bump_version();
  exp_avg_sq.bump_version();
  if (max_exp_avg_sq.defined()) max_exp_avg_sq.bump_version();
}

void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdStep& args) {
  const char* op = "sgd_step_";
  check_operands(op, param, {{"grad", grad}, {"momentum_buffer", momentum_buffer}});
  KILN_CHECK(grad.defined(), op, ": grad is required");
  KILN_CHECK((args.momentum != 0.0) == momentum_buffer.defined(), op,
             ": a momentum buffer is needed exactly when momentum is non-zero");
  KILN_CHECK(!momentum_buffer.defined() || momentum_buffer.is_contiguous(), op,
             ": the momentum buffer must be contiguous");
  Tensor g = grad.contiguous();
  with_contiguous_param(param, [&](const Tensor& p) { sgd_step_stub(p.device(), p, g, momentum_buffer, args); });
  param.bump_version();
  if (momentum_buffer.defined()) momentum_buffer.bump_version();
}

}  // namespace kiln
