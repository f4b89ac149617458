// Explicit SIMD kernels for the hot contiguous float32 elementwise ops (add, sub, mul,
// div, relu, neg, exp, sigmoid, tanh): a table of run kernels per ISA, chosen at run time
// from active_isa(). Written once in ops/cpu/elementwise_vec.h, compiled per ISA in
// ops/cpu/elementwise_avx512.cpp and elementwise_avx2.cpp; called from ops/cpu/unary.cpp
// and binary.cpp through cpu::elementwise_runs (ops/cpu/loops.h).
#pragma once

#include <cstdint>

namespace kiln::cpu {

// Note [SIMD elementwise kernels]
// The elementwise iterator (Note [Elementwise loops]) hands each thread runs of the
// innermost dim. When a float32 run has unit strides (an input may instead have stride 0:
// a broadcast scalar such as x * 2.0 or a bias row) and the active ISA is Avx2 or Avx512,
// the run goes to a kernel here: whole vectors with unaligned loads, the last n % lanes
// elements through a zero-padded vector, so any start and length work. Otherwise the
// scalar lambda of unary.cpp / binary.cpp runs: it is the fallback, the Generic ISA's
// path and the reference the SIMD kernels are tested against.
// Results against that scalar loop:
//   add, sub (alpha == +-1), mul, div, relu, neg: bit for bit the same (IEEE ops; relu is
//     max(x, 0), which maps NaN and -0 to +0 like the scalar `x > 0 ? x : 0`).
//   exp: round(x / ln 2) = n, r = x - n ln 2 (two-part ln 2), e^r = 1 + expm1_reduced(r)
//     (r + r^2 g(r), g a degree-4 Chebyshev fit made by scripts/fit_exp_poly.py), times
//     2^n with one rounding, also for subnormal results (AVX-512: one vscalefps; AVX2:
//     two exact powers of two). At most 2 ulp from std::exp (measured on every 7th
//     float: 1). The clamp of x keeps a NaN, so no select is needed for it.
//   sigmoid: (x >= 0 ? 1 : e) / (1 + e) with e = exp(-|x|), the scalar formula; at most
//     3 ulp from the scalar path (measured likewise: 2).
//   tanh: m / (m + 2) with m = e^(2|x|) - 1 = 2^n q + (2^n - 1), q = expm1_reduced(r):
//     one path with no cancellation for small |x| (for n = 0, m = q); the sign of x put
//     back. At most 2 ulp from the scalar path, the double tanh rounded to float (measured
//     on every float in [2^-12, 12): 2, on 0.5 % of them; glibc's tanhf is itself up
//     to 2 ulp off).
//   Speed: the polynomials and reductions are FMAs and multiplies, and on a core that
//     issues one 512-bit FMA a cycle (Zen 4) their count sets the time; the divide's
//     throughput is the rest. So every step that can avoid a multiply does (a reciprocal
//     estimate with a Newton step instead of vdivps measured slower and less accurate).
//     On one thread, over 16384 floats in L1, old and new kernels alternating: degree-4
//     g instead of the Taylor series to r^7, exp 0.185 -> 0.170 ns an element, sigmoid
//     0.267 -> 0.257; tanh through m instead of a small-|x| polynomial beside 1 - 2 /
//     (e^(2|x|) + 1), 0.385 -> 0.238 (both branches were computed for every element).
//   Special values follow the scalar path: NaN in, NaN out; exp(+inf) = +inf, exp(-inf)
//   = 0, overflow to +inf above ln(FLT_MAX); sigmoid(+-inf) = 1, 0; tanh(+-inf) = +-1,
//   tanh(-0) = -0; sigmoid(-0) = 0.5.
// tests/ops/simd_elementwise_test.cpp holds these bounds on every ISA the CPU has.
//
// Non-temporal stores: with `stream`, whole vectors are written with streaming stores
// (from the first vector-aligned element of out on) that bypass the cache and skip
// reading the output's lines first, which saves a third of the memory traffic of a copy.
// The callers ask for it only when out is far larger than the last-level cache and is
// not written in place over an input (kStreamingBytes in ops/cpu/elementwise_simd.cpp).

enum class SimdUnaryOp { Relu, Neg, Exp, Sigmoid, Tanh };
enum class SimdBinaryOp { Add, Sub, Mul, Div };

struct SimdElementwise {
  const char* isa;  // "avx2", "avx512"
  // out[i] = op(x[i]), i in [0, n).
  void (*unary)(SimdUnaryOp op, float* out, const float* x, int64_t n, bool stream);
  // out[i] = op(a[i], b[i]); a_scalar / b_scalar: that input is one value read at every
  // i (stride 0). Not both.
  void (*binary)(SimdBinaryOp op, float* out, const float* a, bool a_scalar, const float* b, bool b_scalar,
                 int64_t n, bool stream);
  // One row of the LSTM cell's forward in one pass (ops/cpu/rnn.cpp): gates, act,
  // addend: (4H), bias (4H), the rest (H); addend and bias may be nullptr, act may be
  // gates itself. The formulas of lstm_pointwise_element (ops/kernels/rnn.h) with the
  // vector sigmoid and tanh above.
  void (*lstm_cell_row)(int64_t hidden, float* h, float* c_new, float* act, float* tanh_c, const float* gates,
                        const float* c, const float* addend, const float* bias);
};

// The kernels of active_isa(), or nullptr on the Generic level (the scalar loops run).
const SimdElementwise* simd_elementwise();

// Whether an output of `bytes` should be written with streaming stores (see above).
bool use_streaming_stores(int64_t bytes);

// Defined in elementwise_avx512.cpp and elementwise_avx2.cpp; call only when the CPU has
// that level (detected_isa()).
const SimdElementwise& simd_elementwise_avx512();
const SimdElementwise& simd_elementwise_avx2();

}  // namespace kiln::cpu
