// The CPU GEMM, C = alpha * op(A) * op(B) + beta * C on row-major matrices, kept as a
// ladder of variants (listed at the top of ops/cpu/gemm.cpp). ops/cpu/linalg.cpp calls
// gemm() for every matrix product; tests and benchmarks run one version by number.
#pragma once

#include <cstddef>
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

// Note [Prepacked B]
// A product repeated with the same op(B) while A changes (lstm_recurrence multiplies by
// w_hh^T once per time step) need not pack op(B) on every call: gemm_prepack_b packs all
// of it, k x n, into a buffer of gemm_prepacked_b_bytes, in the panels and depth blocks
// that version 5 reads, and gemm_prepacked runs version 5 on it (threads as gemm()).
// The buffer records the micro-kernel that packed it (Note [CPU ISA levels]): when
// another one is active, or the shape differs, gemm_prepacked computes nothing and
// returns false, and the caller runs gemm() instead. out must be 64-byte aligned.
template <typename T>
size_t gemm_prepacked_b_bytes(int64_t k, int64_t n);
template <typename T>
void gemm_prepack_b(bool trans_b, int64_t k, int64_t n, const T* b, int64_t ldb, void* out);
template <typename T>
bool gemm_prepacked(bool trans_a, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                    const void* packed_b, T beta, T* c, int64_t ldc);

}  // namespace kiln::cpu
