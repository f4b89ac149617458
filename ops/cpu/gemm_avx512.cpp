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


// Note [Transposing packs]
// Two of the four packing cases read across rows: op(A) not transposed (MR values of
// column p sit in MR different rows) and op(B) transposed (likewise for NR values of row
// p). Element by element those copies cost about as much as the multiply itself on the
// MLP's shapes, so the float kernel transposes 16 x 16 blocks in registers instead: 16
// row loads, three rounds of shuffles, 16 stores (gemm_avx2.cpp does the same with 8 x 8
// blocks).
//
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

constexpr int kMR = 14, kNR = 32;

// gemm_pack_a<float, 14> for a non-transposed A done 16 columns at a time (Note
// [Transposing packs]); rows 14 and 15 of each block repeat row 13 and are not stored.
// The last panel of an m that is not a multiple of 14 goes the same way with zero rows
// below its last: packed value by value it cost a third of the packing in the LSTM's
// step products (64 rows = 4 x 14 + 8, or 2 x 14 + 4 per thread).
void pack_a_float(bool trans_a, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                  float* out) {
  const int64_t kc16 = kc / 16 * 16;
  if (trans_a || kc16 == 0) return gemm_pack_a<float, kMR>(trans_a, a, lda, i0, mc, p0, kc, out);
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int rows = int(gemm_min(kMR, mc - ir));
    float* panel = out + ir * kc;
    const float* src = a + (i0 + ir) * lda + p0;
    for (int64_t p = 0; p < kc16; p += 16) {
      __m512 block[16];
      for (int r = 0; r < 16; ++r)
        block[r] = r < rows ? _mm512_loadu_ps(src + r * lda + p)
                            : (r < kMR ? _mm512_setzero_ps() : block[kMR - 1]);
      transpose16x16(block);
      for (int c = 0; c < 16; ++c) _mm512_mask_storeu_ps(panel + (p + c) * kMR, __mmask16((1u << kMR) - 1), block[c]);
    }
    if (kc16 < kc) gemm_pack_a<float, kMR>(false, a, lda, i0 + ir, rows, p0 + kc16, kc - kc16, panel + kc16 * kMR);
  }
}

// gemm_pack_b<float, 32> with full panels of a transposed B done as two 16 x 16 blocks per
// 16 steps of p (Note [Transposing packs]). Each block row also prefetches its row two
// blocks ahead: a transposed B is most often a weight that the optimizer step has just
// written, so it comes from the other core or from L3, sixteen rows at a time, more
// streams than the hardware prefetcher follows. In the MLP's training step the forward
// product (128 x 784 @ 784 x 256) took 254 -> 238 us with it; a prefetch in pack_a_float
// measured no gain (its rows are the batch, read once).
constexpr int64_t kPackPrefetch = 32;  // floats: two 16-float blocks ahead
void pack_b_float(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                  float* out) {
  const int64_t full = trans_b ? nc / kNR * kNR : 0;
  const int64_t kc16 = kc / 16 * 16;
  for (int64_t jr = 0; jr < full && kc16 > 0; jr += kNR) {
    float* panel = out + jr * kc;
    for (int half = 0; half < 2; ++half) {
      const float* src = b + (j0 + jr + 16 * half) * ldb + p0;
      for (int64_t p = 0; p < kc16; p += 16) {
        __m512 block[16];
        for (int r = 0; r < 16; ++r) {
          block[r] = _mm512_loadu_ps(src + r * ldb + p);
          _mm_prefetch(reinterpret_cast<const char*>(src + r * ldb + p + kPackPrefetch), _MM_HINT_T0);
        }
        transpose16x16(block);
        for (int c = 0; c < 16; ++c) _mm512_store_ps(panel + (p + c) * kNR + 16 * half, block[c]);
      }
    }
    if (kc16 < kc) gemm_pack_b<float, kNR>(true, b, ldb, p0 + kc16, kc - kc16, j0 + jr, kNR, panel + kc16 * kNR);
  }
  const int64_t done = kc16 > 0 ? full : 0;
  if (done < nc) gemm_pack_b<float, kNR>(trans_b, b, ldb, p0, kc, j0 + done, nc - done, out + done * kc);
}

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
  kernel.pack_a = &pack_a_float;
  kernel.pack_b = &pack_b_float;
  return kernel;
}

template <>
GemmMicroKernel<double> gemm_micro_kernel_avx512<double>() {
  return make_gemm_micro_kernel<Avx512Double, 14, 2>("avx512", 336, 128, 384);
}

}  // namespace kiln::cpu
