// The CPU GEMM, C = alpha * op(A) * op(B) + beta * C on row-major matrices, kept as a
// ladder of variants (listed at the top of ops/cpu/gemm.cpp). ops/cpu/linalg.cpp calls
// gemm() for every matrix product; tests and benchmarks run one version by number.
#pragma once

#include <cstdint>

namespace kiln::cpu {

// Note [GEMM conventions]
// BLAS's GEMM on row-major storage: op(A) is m x k, op(B) is k x n, C is m x n, and
// op(X) is X, or X^T when trans_x. A row-major X with leading dimension ldx holds X(i, j)
// at x[i * ldx + j], so op(A)(i, p) = trans_a ? a[p * lda + i] : a[i * lda + p]; a
// transposed operand is read in place, never copied. C = alpha * op(A) op(B) + beta * C,
// and when beta == 0 C is only written, never read (NaN or garbage in C does not
// propagate), as in BLAS. k == 0 or alpha == 0 reads neither A nor B: C = beta * C.
// Implemented for float and double.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The named variants, 1..kNumGemmVariants (1 is the naive reference); gemm() runs the
// best of them. Same arguments and contract as gemm().
constexpr int kNumGemmVariants = 5;
const char* gemm_variant_name(int version);  // "gemm_kernel1" .. "gemm_kernel5"
template <typename T>
void gemm_variant(int version, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace kiln::cpu
