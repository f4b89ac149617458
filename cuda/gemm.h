// The hand-written CUDA SGEMM ladder (cuda/gemm.cu), callable by version number for
// tests and benchmarks; the gemm kernel of matmul/bmm/addmm uses cuBLAS (cuda/linalg.cu).
// Plain pointers only, so host code includes this without CUDA headers.
#pragma once

#include <cstdint>

namespace kiln::cuda {

// The variants, 1..kNumSgemmVariants (1 is the naive reference):
//   sgemm_kernel1  a thread per element of C, the k-loop reading A and B from global memory
//   sgemm_kernel2  32x32 tiles of A and B staged in shared memory, a thread per element
//   sgemm_kernel3  64x64 block tiles, 16-deep k-slices, a 4x4 register tile per thread
//   sgemm_kernel4  128x128 block tiles, 8-deep k-slices, an 8x8 register tile per thread,
//                  float4 global loads, A transposed in shared memory, double-buffered
//   sgemm_kernel5  tensor cores (WMMA m16n16k8): inputs rounded to tf32 (10-bit mantissa,
//                  round to nearest), float products and sums; needs compute capability
//                  8.0+ (else a kiln::Error). Its error is about 2^-11 relative per
//                  input, so it matches float32 SGEMM only to ~1e-3 |A||B| sqrt(k)-scaled,
//                  not to float32 rounding like versions 1-4.
// Versions 4 and 5 read 16-byte vectors when an operand's pointer is 16-byte aligned
// and its leading dimension a multiple of 4, element by element otherwise (any layout
// works; see Note [SGEMM vector loads] in cuda/gemm.cu).
// Conventions as the CPU's (Note [GEMM conventions] in ops/cpu/gemm.h): row-major
// matrices with leading dimensions, op(X) = X or X^T read in place, C = alpha op(A)
// op(B) + beta C, C not read when beta == 0, and k == 0 or alpha == 0 reads neither A
// nor B. a, b, c are device pointers on the current device; the kernel is queued on
// its stream (cuda/runtime.h) and the call returns before it finishes.
constexpr int kNumSgemmVariants = 5;
const char* sgemm_variant_name(int version);  // "sgemm_kernel5", ...
void sgemm_variant(int version, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace kiln::cuda
