// The AVX-512 elementwise kernels (16 floats per zmm register): the vector interface of
// ops/cpu/elementwise_vec.h over 512-bit intrinsics, compiled with -mavx512f and entered
// only when active_isa() is Avx512. See Note [SIMD elementwise kernels].
#include <immintrin.h>

#include "ops/cpu/elementwise_vec.h"

namespace kiln::cpu {
namespace {

// NOTE: min, max, round and scale2 use the zero-masked forms with a full mask: GCC 12
// warns (-Wmaybe-uninitialized) about the undefined pass-through register of the plain
// forms; with mask kAll the instructions are the same.
struct Avx512Float {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr Mask kAll = 0xffff;
  static Reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Reg x) { _mm512_storeu_ps(p, x); }
  static void stream(float* p, Reg x) { _mm512_stream_ps(p, x); }
  static void fence() { _mm_sfence(); }
  static Reg set1(float v) { return _mm512_set1_ps(v); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg min(Reg a, Reg b) { return _mm512_maskz_min_ps(kAll, a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_maskz_max_ps(kAll, a, b); }
  static Reg round(Reg x) { return _mm512_maskz_roundscale_ps(kAll, x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Reg abs(Reg x) { return _mm512_abs_ps(x); }
  static Reg sign_bits(Reg x) { return _mm512_and_ps(x, set1(-0.0f)); }
  static Reg or_bits(Reg a, Reg b) { return _mm512_or_ps(a, b); }
  static Reg xor_bits(Reg a, Reg b) { return _mm512_xor_ps(a, b); }
  static Mask lt(Reg a, Reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static Mask ge(Reg a, Reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static Reg select(Mask m, Reg a, Reg b) { return _mm512_mask_blend_ps(m, b, a); }
  // vscalefps: p * 2^floor(n) in one instruction, one rounding, over the whole range.
  static Reg scale2(Reg p, Reg n) { return _mm512_maskz_scalef_ps(kAll, p, n); }
};

}  // namespace

const SimdElementwise& simd_elementwise_avx512() {
  static const SimdElementwise kernels{"avx512", unary_run<Avx512Float>, binary_run<Avx512Float>, lstm_cell_row<Avx512Float>};
  return kernels;
}

}  // namespace kiln::cpu
