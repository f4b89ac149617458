// The kernel contract of the matrix products (one batched GEMM): each kernel's signature,
// the shapes and layouts it receives, and its DispatchStub. ops/linalg.cpp defines the
// stubs and calls them; every device's kernels (ops/cpu/linalg.cpp, cuda/) register
// against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// Note [GEMM operand layout]
// out = beta * out + alpha * (a @ b), with out: (m, n) or (B, m, n), contiguous (not read
// when beta == 0); a: (m, k) or (B, m, k); b: (k, n) or (B, k, n). Each matrix of a and b
// is either row-major (stride(-1) == 1; leading dimension stride(-2)) or transposed
// (stride(-2) == 1; leading dimension stride(-1)), so a transposed view such as b.t()
// reaches the GEMM without a copy; a size-1 dim counts as either. The batch dim may have
// any stride, 0 included (a matrix broadcast over the batch). gemm_operand() in ops/linalg.cpp copies
// what fits neither layout.
using GemmKernel = void(const Tensor& out, const Tensor& a, const Tensor& b, double beta, double alpha);
KILN_DECLARE_STUB(gemm_stub, GemmKernel);

// Note [Prepared GEMM operand]
// lstm_recurrence multiplies by the same weight at every time step. gemm_prepare_stub
// turns such a right operand b (k, n), laid out as for gemm_stub, into the form the
// device's GEMM reads (the CPU packs it once: Note [Prepacked B] in ops/cpu/gemm.h), or
// returns an undefined tensor when there is nothing to prepare (cuBLAS reads b as it is).
// gemm_prepared_stub then computes out = beta * out + alpha * a @ b as gemm_stub does,
// for an unbatched (m, k) a, from `prepared` when it is defined and still fits, else from
// b. b must not change between the two.
using GemmPrepareKernel = Tensor(const Tensor& b);
KILN_DECLARE_STUB(gemm_prepare_stub, GemmPrepareKernel);
using GemmPreparedKernel = void(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& prepared,
                                double beta, double alpha);
KILN_DECLARE_STUB(gemm_prepared_stub, GemmPreparedKernel);

}  // namespace kiln
