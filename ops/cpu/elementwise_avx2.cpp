// The AVX2 elementwise kernels (8 floats per ymm register): the vector interface of
// ops/cpu/elementwise_vec.h over 256-bit intrinsics, compiled with -mavx2 -mfma and entered
// only when active_isa() is Avx2. See Note [SIMD elementwise kernels].
#include <immintrin.h>

#include "ops/cpu/elementwise_vec.h"

namespace kiln::cpu {
namespace {

// Masks are vectors of all-ones / all-zeros lanes (the compare results of AVX).
struct Avx2Float {
  using Reg = __m256;
  using Mask = __m256;
  static constexpr int kLanes = 8;
  static Reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Reg x) { _mm256_storeu_ps(p, x); }
  static void stream(float* p, Reg x) { _mm256_stream_ps(p, x); }
  static void fence() { _mm_sfence(); }
  static Reg set1(float v) { return _mm256_set1_ps(v); }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg min(Reg a, Reg b) { return _mm256_min_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg round(Reg x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Reg trunc(Reg x) { return _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }
  static Reg abs(Reg x) { return _mm256_andnot_ps(set1(-0.0f), x); }
  static Reg sign_bits(Reg x) { return _mm256_and_ps(x, set1(-0.0f)); }
  static Reg or_bits(Reg a, Reg b) { return _mm256_or_ps(a, b); }
  static Reg xor_bits(Reg a, Reg b) { return _mm256_xor_ps(a, b); }
  static Mask lt(Reg a, Reg b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static Mask ge(Reg a, Reg b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static Reg select(Mask m, Reg a, Reg b) { return _mm256_blendv_ps(b, a, m); }
  // 2^n by building the exponent field: (n + 127) << 23, for n in [-126, 127].
  static Reg pow2(Reg n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  // p * 2^n = (p * 2^(n - h)) * 2^h, h = trunc(n / 2): both powers are normal, the first
  // product is exact, the second rounds once, also into the subnormals. A NaN n makes a
  // finite power, and p is then NaN too.
  static Reg scale2(Reg p, Reg n) {
    const Reg h = trunc(mul(n, set1(0.5f)));
    return mul(mul(p, pow2(sub(n, h))), pow2(h));
  }
};

}  // namespace

const SimdElementwise& simd_elementwise_avx2() {
  static const SimdElementwise kernels{"avx2", unary_run<Avx2Float>, binary_run<Avx2Float>, lstm_cell_row<Avx2Float>};
  return kernels;
}

}  // namespace kiln::cpu
