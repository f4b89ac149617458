// The AVX2 + FMA GEMM micro-kernels (float 6 x 16, double 6 x 8) and their cache blocking;
// compiled with -mavx2 -mfma and entered only when active_isa() is Avx2 or above. The
// kernel itself is the template in ops/cpu/gemm_microkernel.h.
#include <immintrin.h>

#include "ops/cpu/gemm_microkernel.h"

namespace kiln::cpu {
namespace {

// The vector interface of gemm_micro_kernel: 256-bit registers.
struct Avx2Float {
  using Scalar = float;
  using Reg = __m256;
  static constexpr int kLanes = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_load_ps(p); }
  static Reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Reg x) { _mm256_storeu_ps(p, x); }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
};

struct Avx2Double {
  using Scalar = double;
  using Reg = __m256d;
  static constexpr int kLanes = 4;
  static Reg zero() { return _mm256_setzero_pd(); }
  static Reg load(const double* p) { return _mm256_load_pd(p); }
  static Reg loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, Reg x) { _mm256_storeu_pd(p, x); }
  static Reg broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_pd(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_pd(a, b); }
};

}  // namespace

// Blocking (Note [GEMM blocking] in ops/cpu/gemm.cpp): 16 ymm registers allow 6 x 16
// (12 accumulators, 2 B vectors, 1 broadcast). kc = 384 keeps the float A micro-panel at
// 6 x 384 x 4 B = 9 KiB of L1 and the B block (384 x 256, 384 KiB) in half of a 1 MiB L2;
// float64 halves kc for the same bytes.
template <>
GemmMicroKernel<float> gemm_micro_kernel_avx2<float>() {
  return make_gemm_micro_kernel<Avx2Float, 6, 2>("avx2", 144, 384, 256);
}

template <>
GemmMicroKernel<double> gemm_micro_kernel_avx2<double>() {
  return make_gemm_micro_kernel<Avx2Double, 6, 2>("avx2", 144, 192, 256);
}

}  // namespace kiln::cpu
