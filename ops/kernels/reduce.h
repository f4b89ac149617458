// The kernel contract of the reductions: each kernel's signature, the shapes and layouts
// it receives, and its DispatchStub. ops/reduce.cpp defines the stubs and calls them;
// every device's kernels (ops/cpu/reduce.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// x: (outer, reduced, inner) contiguous, out: (outer, inner) contiguous. `param` is the
// op's scalar: the scale of a sum (1/N for mean), var's correction, norm's p.
using ReduceKernel = void(const Tensor& out, const Tensor& x, double param);
// x: (outer, reduced, inner); values and int64 indices: (outer, inner).
using ArgReduceKernel = void(const Tensor& values, const Tensor& indices, const Tensor& x);

KILN_DECLARE_STUB(sum_stub, ReduceKernel);
KILN_DECLARE_STUB(prod_stub, ReduceKernel);
KILN_DECLARE_STUB(var_stub, ReduceKernel);
KILN_DECLARE_STUB(norm_stub, ReduceKernel);
KILN_DECLARE_STUB(amax_stub, ReduceKernel);
KILN_DECLARE_STUB(amin_stub, ReduceKernel);
KILN_DECLARE_STUB(all_stub, ReduceKernel);
KILN_DECLARE_STUB(any_stub, ReduceKernel);
KILN_DECLARE_STUB(max_dim_stub, ArgReduceKernel);
KILN_DECLARE_STUB(min_dim_stub, ArgReduceKernel);

}  // namespace kiln
