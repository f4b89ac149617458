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
  static Reg load(const uint32_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(uint32_t* p, Reg x) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), x); }
  static Reg set1(uint32_t v) { return _mm256_set1_epi32(int(v)); }
  static Reg xor_(Reg a, Reg b) { return _mm256_xor_si256(a, b); }
  static Reg mul_lo(Reg a, uint32_t m) { return _mm256_mullo_epi32(a, set1(m)); }
  // As in the AVX-512 file: even lanes, then the odd ones shifted down, blended back.
  static Reg mul_hi(Reg a, uint32_t m) {
    const Reg mv = set1(m);
    const Reg even = _mm256_srli_epi64(_mm256_mul_epu32(a, mv), 32);
    const Reg odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
    return _mm256_blend_epi32(even, odd, 0xAA);
  }
};

}  // namespace

void philox_blocks_avx2(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  philox_blocks_simd<Avx2U32>(seed, first, count, words);
}

}  // namespace kiln::cpu
