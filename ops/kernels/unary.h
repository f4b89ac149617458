// The kernel contract of the unary elementwise ops: each kernel's signature, the shapes
// and layouts it receives, and its DispatchStub. ops/unary.cpp defines the stubs and
// calls them; every device's kernels (ops/cpu/unary.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// Every unary kernel has this signature; `a` and `b` carry the op's scalar parameters
// (slope, alpha, clamp bounds, exponent...) and are ignored by ops without any.
using UnaryKernel = void(const Tensor& out, const Tensor& x, double a, double b);

KILN_DECLARE_STUB(neg_stub, UnaryKernel);
KILN_DECLARE_STUB(exp_stub, UnaryKernel);
KILN_DECLARE_STUB(log_stub, UnaryKernel);
KILN_DECLARE_STUB(log1p_stub, UnaryKernel);
KILN_DECLARE_STUB(sqrt_stub, UnaryKernel);
KILN_DECLARE_STUB(rsqrt_stub, UnaryKernel);
KILN_DECLARE_STUB(abs_stub, UnaryKernel);
KILN_DECLARE_STUB(sign_stub, UnaryKernel);
KILN_DECLARE_STUB(sin_stub, UnaryKernel);
KILN_DECLARE_STUB(cos_stub, UnaryKernel);
KILN_DECLARE_STUB(erf_stub, UnaryKernel);
KILN_DECLARE_STUB(pow_scalar_stub, UnaryKernel);
KILN_DECLARE_STUB(clamp_stub, UnaryKernel);
KILN_DECLARE_STUB(relu_stub, UnaryKernel);
KILN_DECLARE_STUB(leaky_relu_stub, UnaryKernel);
KILN_DECLARE_STUB(elu_stub, UnaryKernel);
KILN_DECLARE_STUB(gelu_stub, UnaryKernel);
KILN_DECLARE_STUB(gelu_tanh_stub, UnaryKernel);
KILN_DECLARE_STUB(silu_stub, UnaryKernel);
KILN_DECLARE_STUB(sigmoid_stub, UnaryKernel);
KILN_DECLARE_STUB(tanh_stub, UnaryKernel);
KILN_DECLARE_STUB(softplus_stub, UnaryKernel);
KILN_DECLARE_STUB(isfinite_stub, UnaryKernel);
KILN_DECLARE_STUB(isnan_stub, UnaryKernel);
KILN_DECLARE_STUB(logical_not_stub, UnaryKernel);

}  // namespace kiln
