// The AVX-512 GEMM micro-kernels (float 14 x 32, double 14 x 16) and their cache blocking
// for AMD Zen 4; compiled with -mavx512f/dq/bw/vl and entered only when active_isa() is
// Avx512. The kernel itself is the template in ops/cpu/gemm_microkernel.h.
// NOTE: GCC 12 warns inside its own unpack intrinsics (-W[maybe-]uninitialized on the
// _mm512_undefined_ps() they pass as the unused merge source, GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "ops/cpu/gemm_microkernel.h"

namespace kiln::cpu {
namespace {

constexpr int kMR = 14, kNR = 32;  // the float kernel's register block

// The 16 x 16 transpose of Note [Transposing packs] (ops/cpu/gemm_microkernel.h).
// in[r] = row r (16 values); afterwards in[c] = column c. Rounds: interleave pairs of
// rows (unpack ps), then pairs of pairs (unpack pd), which leaves, in each 128-bit lane L,
// column 4L + k of four rows in in[4i + k]; then two 128-bit lane shuffles gather lane L
// of the four groups.
//
// Forced inline: called, the 16 rows went to the stack and back on each side of the call
// (GCC keeps it out of line at -O3), and the packs took twice as long: the MLP forward's
// A block (128 x 208) 5.07 -> 2.46 us, pack alone, in-process A/B.
__attribute__((always_inline)) inline void transpose16x16(__m512 in[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(in[2 * i], in[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int k = 0; k < 4; ++k) {
    const __m512 w0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44), w1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE);
    const __m512 w2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44);
    const __m512 w3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
    in[k] = _mm512_shuffle_f32x4(w0, w2, 0x88);
    in[4 + k] = _mm512_shuffle_f32x4(w0, w2, 0xDD);
    in[8 + k] = _mm512_shuffle_f32x4(w1, w3, 0x88);
    in[12 + k] = _mm512_shuffle_f32x4(w1, w3, 0xDD);
  }
}

// The vector interface of gemm_micro_kernel: 512-bit registers.
struct Avx512Float {
  using Scalar = float;
  using Reg = __m512;
  static constexpr int kLanes = 16;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_load_ps(p); }
  static Reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Reg x) { _mm512_storeu_ps(p, x); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  // For the transposing packs (Note [Transposing packs]).
  static void store(float* p, Reg x) { _mm512_store_ps(p, x); }
  static void transpose(Reg in[16]) { transpose16x16(in); }
  static void store_a_column(float* p, Reg x, bool) { _mm512_mask_storeu_ps(p, __mmask16((1u << kMR) - 1), x); }
};

struct Avx512Double {
  using Scalar = double;
  using Reg = __m512d;
  static constexpr int kLanes = 8;
  static Reg zero() { return _mm512_setzero_pd(); }
  static Reg load(const double* p) { return _mm512_load_pd(p); }
  static Reg loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, Reg x) { _mm512_storeu_pd(p, x); }
  static Reg broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_pd(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_pd(a, b); }
};

}  // namespace

// Blocking (Note [GEMM blocking] in ops/cpu/gemm.cpp), for Zen 4 and Zen 5 cores: 32 or
// 48 KiB of L1d, 1 MiB of L2. The two threads of a core (SMT) share both, so each thread
// gets half: kc = 256 makes the float A micro-panel 14 x 256 x 4 B = 14 KiB and the B
// block 256 x 384 x 4 B = 384 KiB. float64 halves kc to keep the same bytes. (The
// development VM's two vCPUs reach twice the FMA peak of one, 407 against 212 GFLOP/s,
// but they still slow each other on L2-resident data: reading 256-768 KiB buffers over
// and over, one thread gets 145-158 GB/s and each of two 97-123 GB/s.)
// 14 x 32 beat 12 x 32 and 8 x 48 on one thread at 1024^3 and matched 6 x 32 (about 180
// GFLOP/s, 80 % of the measured single-thread peak); it needs the fewest B loads per FMA.
template <>
GemmMicroKernel<float> gemm_micro_kernel_avx512<float>() {
  GemmMicroKernel<float> kernel = make_gemm_micro_kernel<Avx512Float, kMR, kNR / 16>("avx512", 336, 256, 384);
  kernel.pack_a = &pack_a_transposing<Avx512Float, kMR>;
  kernel.pack_b = &pack_b_transposing<Avx512Float, kNR>;
  return kernel;
}

template <>
GemmMicroKernel<double> gemm_micro_kernel_avx512<double>() {
  return make_gemm_micro_kernel<Avx512Double, 14, 2>("avx512", 336, 128, 384);
}

}  // namespace kiln::cpu
