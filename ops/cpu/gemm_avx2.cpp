// The AVX2 + FMA GEMM micro-kernels (float 6 x 16, double 6 x 8) and their cache blocking;
// compiled with -mavx2 -mfma and entered only when active_isa() is Avx2 or above. The
// kernel itself is the template in ops/cpu/gemm_microkernel.h.
#include <immintrin.h>

#include "ops/cpu/gemm_microkernel.h"

namespace kiln::cpu {
namespace {

constexpr int kMR = 6, kNR = 16;  // the float kernel's register block

// The 8 x 8 transpose of Note [Transposing packs] (ops/cpu/gemm_microkernel.h). in[r] =
// row r (8 values); afterwards in[c] = column c. Interleave pairs of rows (unpack ps),
// then pairs of pairs (shuffle ps), which leaves columns c and c + 4 of four rows in the
// two 128-bit lanes of one register; one lane permute per column joins the two groups
// of four rows. Forced inline, as gemm_avx512.cpp's 16 x 16 one.
__attribute__((always_inline)) inline void transpose8x8(__m256 in[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(in[2 * i], in[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    in[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
    in[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
  }
}

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
  // For the transposing packs (Note [Transposing packs]).
  static void store(float* p, Reg x) { _mm256_store_ps(p, x); }
  static void transpose(Reg in[8]) { transpose8x8(in); }
  // The first 6 of a column's 8 values: all 8 when the next column's store follows and
  // overwrites the last two (AMD's masked stores are slow), else 4 + 2.
  static void store_a_column(float* p, Reg x, bool last) {
    static_assert(kMR == 6, "store_a_column writes 6 values");
    if (!last) return _mm256_storeu_ps(p, x);
    _mm_storeu_ps(p, _mm256_castps256_ps128(x));
    _mm_storel_pi(reinterpret_cast<__m64*>(p + 4), _mm256_extractf128_ps(x, 1));
  }
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
  GemmMicroKernel<float> kernel = make_gemm_micro_kernel<Avx2Float, kMR, kNR / 8>("avx2", 144, 384, 256);
  kernel.pack_a = &pack_a_transposing<Avx2Float, kMR>;
  kernel.pack_b = &pack_b_transposing<Avx2Float, kNR>;
  return kernel;
}

template <>
GemmMicroKernel<double> gemm_micro_kernel_avx2<double>() {
  return make_gemm_micro_kernel<Avx2Double, 6, 2>("avx2", 144, 192, 256);
}

}  // namespace kiln::cpu
