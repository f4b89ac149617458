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

// The transposing packs with 8 x 8 blocks in registers, as gemm_avx512.cpp does with
// 16 x 16 (Note [Transposing packs]): in[r] = row r (8 values); afterwards in[c] =
// column c. Interleave pairs of rows (unpack ps), then pairs of pairs (shuffle ps), which
// leaves columns c and c + 4 of four rows in the two 128-bit lanes of one register;
// one lane permute per column joins the two groups of four rows.
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

constexpr int kMR = 6, kNR = 16;

// gemm_pack_a<float, 6> for a non-transposed A, 8 columns at a time; rows past the
// panel's last (6 and 7 of every block, and those of a partial last panel) are zero.
// Column c of a block is stored as 8 values whose last two the next column's store
// overwrites (AMD's masked stores are slow); the last column stores its 6 as 4 + 2.
void pack_a_float(bool trans_a, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                  float* out) {
  const int64_t kc8 = kc / 8 * 8;
  if (trans_a || kc8 == 0) return gemm_pack_a<float, kMR>(trans_a, a, lda, i0, mc, p0, kc, out);
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int rows = int(gemm_min(kMR, mc - ir));
    float* panel = out + ir * kc;
    const float* src = a + (i0 + ir) * lda + p0;
    for (int64_t p = 0; p < kc8; p += 8) {
      __m256 block[8];
      for (int r = 0; r < 8; ++r) block[r] = r < rows ? _mm256_loadu_ps(src + r * lda + p) : _mm256_setzero_ps();
      transpose8x8(block);
      for (int c = 0; c < 7; ++c) _mm256_storeu_ps(panel + (p + c) * kMR, block[c]);
      float* last = panel + (p + 7) * kMR;
      _mm_storeu_ps(last, _mm256_castps256_ps128(block[7]));
      _mm_storel_pi(reinterpret_cast<__m64*>(last + 4), _mm256_extractf128_ps(block[7], 1));
    }
    if (kc8 < kc) gemm_pack_a<float, kMR>(false, a, lda, i0 + ir, rows, p0 + kc8, kc - kc8, panel + kc8 * kMR);
  }
}

// gemm_pack_b<float, 16> with full panels of a transposed B done as two 8 x 8 blocks per
// 8 steps of p; a partial last panel goes value by value.
void pack_b_float(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                  float* out) {
  const int64_t full = trans_b ? nc / kNR * kNR : 0;
  const int64_t kc8 = kc / 8 * 8;
  for (int64_t jr = 0; jr < full && kc8 > 0; jr += kNR) {
    float* panel = out + jr * kc;
    for (int half = 0; half < 2; ++half) {
      const float* src = b + (j0 + jr + 8 * half) * ldb + p0;
      for (int64_t p = 0; p < kc8; p += 8) {
        __m256 block[8];
        for (int r = 0; r < 8; ++r) block[r] = _mm256_loadu_ps(src + r * ldb + p);
        transpose8x8(block);
        for (int c = 0; c < 8; ++c) _mm256_store_ps(panel + (p + c) * kNR + 8 * half, block[c]);
      }
    }
    if (kc8 < kc) gemm_pack_b<float, kNR>(true, b, ldb, p0 + kc8, kc - kc8, j0 + jr, kNR, panel + kc8 * kNR);
  }
  const int64_t done = kc8 > 0 ? full : 0;
  if (done < nc) gemm_pack_b<float, kNR>(trans_b, b, ldb, p0, kc, j0 + done, nc - done, out + done * kc);
}

}  // namespace

// Blocking (Note [GEMM blocking] in ops/cpu/gemm.cpp): 16 ymm registers allow 6 x 16
// (12 accumulators, 2 B vectors, 1 broadcast). kc = 384 keeps the float A micro-panel at
// 6 x 384 x 4 B = 9 KiB of L1 and the B block (384 x 256, 384 KiB) in half of a 1 MiB L2;
// float64 halves kc for the same bytes.
template <>
GemmMicroKernel<float> gemm_micro_kernel_avx2<float>() {
  GemmMicroKernel<float> kernel = make_gemm_micro_kernel<Avx2Float, kMR, kNR / 8>("avx2", 144, 384, 256);
  kernel.pack_a = &pack_a_float;
  kernel.pack_b = &pack_b_float;
  return kernel;
}

template <>
GemmMicroKernel<double> gemm_micro_kernel_avx2<double>() {
  return make_gemm_micro_kernel<Avx2Double, 6, 2>("avx2", 144, 192, 256);
}

}  // namespace kiln::cpu
