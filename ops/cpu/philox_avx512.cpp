// Philox blocks 16 at a time in 512-bit registers (ops/cpu/philox_simd.h); compiled with
// the AVX-512 flags and entered only when active_isa() is Avx512.
#include <immintrin.h>

#include "ops/cpu/philox.h"
#include "ops/cpu/philox_simd.h"

namespace kiln::cpu {
namespace {

struct Avx512U32 {
  using Reg = __m512i;
  static constexpr int kLanes = 16;
  static Reg load(const uint32_t* p) { return _mm512_load_si512(p); }
  static void store(uint32_t* p, Reg x) { _mm512_store_si512(p, x); }
  static Reg set1(uint32_t v) { return _mm512_set1_epi32(int(v)); }
  static Reg xor_(Reg a, Reg b) { return _mm512_xor_si512(a, b); }
  static Reg mul_lo(Reg a, uint32_t m) { return _mm512_mullo_epi32(a, set1(m)); }
  // mul_epu32 multiplies the even lanes into 64-bit products: once as they are and once
  // shifted down, then the high halves are put back in place. (The all-lanes maskz forms
  // compute the same as the plain intrinsics, which GCC 12 flags with a false
  // -Wmaybe-uninitialized from their _mm512_undefined_epi32 pass-through.)
  static Reg mul_hi(Reg a, uint32_t m) {
    constexpr __mmask8 kAll = 0xFF;
    const Reg mv = set1(m);
    const Reg even = _mm512_maskz_srli_epi64(kAll, _mm512_maskz_mul_epu32(kAll, a, mv), 32);
    const Reg odd = _mm512_maskz_mul_epu32(kAll, _mm512_maskz_srli_epi64(kAll, a, 32), mv);
    return _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, odd);
  }
};

}  // namespace

void philox_blocks_avx512(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  philox_blocks_simd<Avx512U32>(seed, first, count, words);
}

}  // namespace kiln::cpu
