// Philox blocks 16 at a time in 512-bit registers (ops/cpu/philox_simd.h); compiled with
// the AVX-512 flags and entered only when active_isa() is Avx512.
// NOTE: GCC 12 warns inside its own unpack and shuffle intrinsics (-W[maybe-]uninitialized
// on the undefined vector they pass as the unused merge source, GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "ops/cpu/philox.h"
#include "ops/cpu/philox_simd.h"

namespace kiln::cpu {
namespace {

struct Avx512U32 {
  using Reg = __m512i;
  static constexpr int kLanes = 16;
  static Reg set1(uint32_t v) { return _mm512_set1_epi32(int(v)); }
  static Reg xor_(Reg a, Reg b) { return _mm512_xor_si512(a, b); }
  // Lane j: the 64-bit counter first + j as its low and high words (the low word may wrap).
  static void counters(uint64_t first, Reg& lo, Reg& hi) {
    const Reg base = set1(uint32_t(first)), top = set1(uint32_t(first >> 32));
    lo = _mm512_add_epi32(base, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    hi = _mm512_mask_add_epi32(top, _mm512_cmplt_epu32_mask(lo, base), top, set1(1));
  }
  // mul_epu32 multiplies the even lanes into 64-bit products: once as they are and once
  // shifted down for the odd lanes; each product's halves are then moved into place.
  static void mul_wide(Reg a, uint32_t m, Reg& hi, Reg& lo) {
    constexpr __mmask16 kOdd = 0xAAAA;
    const Reg mv = set1(m);
    const Reg even = _mm512_mul_epu32(a, mv), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
    hi = _mm512_mask_blend_epi32(kOdd, _mm512_srli_epi64(even, 32), odd);
    lo = _mm512_mask_blend_epi32(kOdd, even, _mm512_slli_epi64(odd, 32));
  }
  // words[4 j + w] = c_w[j]: interleaving the four registers leaves block 4 L + i in
  // 128-bit lane L of u_i; a 4 x 4 transpose of 128-bit lanes puts the blocks in order.
  static void store_blocks(uint32_t* words, Reg c0, Reg c1, Reg c2, Reg c3) {
    const Reg t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
    const Reg t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
    const Reg u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    const Reg u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    const Reg w0 = _mm512_shuffle_i32x4(u0, u1, 0x44), w1 = _mm512_shuffle_i32x4(u0, u1, 0xEE);
    const Reg w2 = _mm512_shuffle_i32x4(u2, u3, 0x44), w3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
    _mm512_storeu_si512(words, _mm512_shuffle_i32x4(w0, w2, 0x88));
    _mm512_storeu_si512(words + 16, _mm512_shuffle_i32x4(w0, w2, 0xDD));
    _mm512_storeu_si512(words + 32, _mm512_shuffle_i32x4(w1, w3, 0x88));
    _mm512_storeu_si512(words + 48, _mm512_shuffle_i32x4(w1, w3, 0xDD));
  }
};

}  // namespace

void philox_blocks_avx512(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  philox_blocks_simd<Avx512U32>(seed, first, count, words);
}

void dropout_keep_float_avx512(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                        uint32_t threshold, float kept) {
  dropout_keep_loop(len, words, x, out, mask, threshold, kept);
}

}  // namespace kiln::cpu
