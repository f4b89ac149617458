// Philox blocks 8 at a time in 256-bit registers (ops/cpu/philox_simd.h); compiled with
// the AVX2 flags and entered only when active_isa() is Avx2 or above.
#include <immintrin.h>

#include "ops/cpu/philox.h"
#include "ops/cpu/philox_simd.h"

namespace kiln::cpu {
namespace {

struct Avx2U32 {
  using Reg = __m256i;
  static constexpr int kLanes = 8;
  static Reg set1(uint32_t v) { return _mm256_set1_epi32(int(v)); }
  static Reg xor_(Reg a, Reg b) { return _mm256_xor_si256(a, b); }
  // As in the AVX-512 file. AVX2 has no unsigned compare: the wrap test flips the sign
  // bits and compares signed, and the all-ones result subtracted adds the carry.
  static void counters(uint64_t first, Reg& lo, Reg& hi) {
    const Reg base = set1(uint32_t(first)), sign = set1(0x80000000u);
    lo = _mm256_add_epi32(base, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const Reg wrapped = _mm256_cmpgt_epi32(_mm256_xor_si256(base, sign), _mm256_xor_si256(lo, sign));
    hi = _mm256_sub_epi32(set1(uint32_t(first >> 32)), wrapped);
  }
  static void mul_wide(Reg a, uint32_t m, Reg& hi, Reg& lo) {
    const Reg mv = set1(m);
    const Reg even = _mm256_mul_epu32(a, mv);
    const Reg odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  }
  // As in the AVX-512 file, with two 128-bit lanes: u_i holds blocks i and 4 + i.
  static void store_blocks(uint32_t* words, Reg c0, Reg c1, Reg c2, Reg c3) {
    const Reg t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    const Reg t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    const Reg u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const Reg u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    auto* out = reinterpret_cast<__m256i*>(words);
    _mm256_storeu_si256(out, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
  }
};

}  // namespace

void philox_blocks_avx2(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  philox_blocks_simd<Avx2U32>(seed, first, count, words);
}

void dropout_keep_float_avx2(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                        uint32_t threshold, float kept) {
  dropout_keep_loop(len, words, x, out, mask, threshold, kept);
}

}  // namespace kiln::cpu
