// The kernel contract of binary elementwise ops (add, mul, comparisons, where): each
// kernel's signature, the shapes and layouts it receives, and its DispatchStub.
// ops/binary.cpp defines the stubs and calls them; every device's kernels
// (ops/cpu/binary.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// out: broadcast shape of a and b; a, b: already converted to the computation dtype.
// alpha scales b in add/sub and is ignored elsewhere.
using BinaryKernel = void(const Tensor& out, const Tensor& a, const Tensor& b, double alpha);
KILN_DECLARE_STUB(add_stub, BinaryKernel);
KILN_DECLARE_STUB(mul_stub, BinaryKernel);
KILN_DECLARE_STUB(div_stub, BinaryKernel);
KILN_DECLARE_STUB(pow_stub, BinaryKernel);
KILN_DECLARE_STUB(maximum_stub, BinaryKernel);
KILN_DECLARE_STUB(minimum_stub, BinaryKernel);
KILN_DECLARE_STUB(eq_stub, BinaryKernel);
KILN_DECLARE_STUB(ne_stub, BinaryKernel);
KILN_DECLARE_STUB(lt_stub, BinaryKernel);
KILN_DECLARE_STUB(le_stub, BinaryKernel);
KILN_DECLARE_STUB(gt_stub, BinaryKernel);
KILN_DECLARE_STUB(ge_stub, BinaryKernel);
KILN_DECLARE_STUB(logical_and_stub, BinaryKernel);
KILN_DECLARE_STUB(logical_or_stub, BinaryKernel);
// out, cond, a, b: all broadcast to out's shape; a and b in out's dtype.
KILN_DECLARE_STUB(where_stub, void(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b));

}  // namespace kiln
