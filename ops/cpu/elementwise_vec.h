// Internal to the SIMD elementwise kernels (ops/cpu/elementwise_avx512.cpp and
// elementwise_avx2.cpp): the run loops and the vector exp / sigmoid / tanh, written once
// as templates over a small vector interface V. See Note [SIMD elementwise kernels].
#pragma once

#include <cstdint>
#include <cstring>

#include "ops/cpu/elementwise_simd.h"

namespace kiln::cpu {

// NOTE: everything below sits in an unnamed namespace and calls no standard-library
// template: each ISA file compiles its own copy with its own -m flags (as with
// Note [GEMM micro-kernels]), and a shared inline copy could be linked for everybody.
//
// V provides: Reg, kLanes; loadu, storeu, stream (to an aligned address), fence, set1,
// zero; add, sub, mul, div, fmadd(a, b, c) = a * b + c, min, max (each returns its
// second operand when one is NaN, as x86's minps / maxps), round (to nearest even), abs,
// sign_bits (x & -0.0f), or_bits, xor_bits; lt, ge giving a mask for select(m, a, b) =
// m ? a : b; scale2(p, n) = p * 2^n rounded once, for p in [0.5, 2] and integral-valued
// n in [-150, 128] (into the subnormals, and to inf past FLT_MAX), NaN when p is.
namespace {

// e^r - 1 for |r| <= ln(2) / 2, the reduced argument of exp and tanh: r + r^2 g(r), g a
// degree-4 polynomial, the Chebyshev fit of (e^r - 1 - r) / r^2 made by
// scripts/fit_exp_poly.py (relative error 2.5e-8 with its coefficients rounded to float).
// The leading r is added exactly by the last FMA, so the result is good to about half an
// ulp however small r is; one FMA fewer than the Taylor series to r^7.
template <typename V>
inline typename V::Reg expm1_reduced(typename V::Reg r) {
  using R = typename V::Reg;
  R g = V::set1(0.0013926198007538915f);
  g = V::fmadd(g, r, V::set1(0.008363190107047558f));
  g = V::fmadd(g, r, V::set1(0.041666556149721146f));
  g = V::fmadd(g, r, V::set1(0.16666576266288757f));
  g = V::fmadd(g, r, V::set1(0.5f));
  return V::fmadd(V::mul(r, r), g, r);
}

// e^x; see Note [SIMD elementwise kernels] for the method and its accuracy.
template <typename V>
inline typename V::Reg vec_exp(typename V::Reg x) {
  using R = typename V::Reg;
  // Below -104, e^x < 2^-150 rounds to 0; above 89 it is past FLT_MAX and 2^n
  // overflows to inf. Clamping keeps n in [-150, 128]. x is the second operand of min
  // and max, so a NaN passes through them and every step after it.
  const R xc = V::max(V::set1(-104.0f), V::min(V::set1(89.0f), x));
  const R n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  // r = x - n ln 2 with ln 2 split into 0.693145751953125 (15 significant bits: n times
  // it is exact) and the rest, 1.4286068e-6.
  R r = V::fmadd(n, V::set1(-0.693145751953125f), xc);
  r = V::fmadd(n, V::set1(-1.42860682030941723212e-6f), r);
  return V::scale2(V::add(V::set1(1.0f), expm1_reduced<V>(r)), n);  // 2^n e^r
}

// 1 / (1 + e^-x), never exponentiating a large positive number.
template <typename V>
inline typename V::Reg vec_sigmoid(typename V::Reg x) {
  using R = typename V::Reg;
  const R e = vec_exp<V>(V::or_bits(x, V::set1(-0.0f)));  // e^-|x|: x with its sign bit set
  const R num = V::select(V::ge(x, V::zero()), V::set1(1.0f), e);
  return V::div(num, V::add(V::set1(1.0f), e));
}

// tanh|x| = m / (m + 2) with m = e^(2|x|) - 1, the sign of x put back. m comes from the
// reduction of vec_exp without its cancellation: with 2|x| = n ln 2 + r, m = 2^n q +
// (2^n - 1) where q = e^r - 1 = expm1_reduced(r), so for n = 0 (|x| < 0.17) m is q
// itself, accurate to the last bit however small x is. One path for every x.
template <typename V>
inline typename V::Reg vec_tanh(typename V::Reg x) {
  using R = typename V::Reg;
  // tanh 10 rounds to 1, and capping 2|x| at 20 keeps 2^n far from overflow; y is the
  // second operand of min, so a NaN passes through.
  const R ax = V::abs(x);
  const R y = V::min(V::set1(20.0f), V::add(ax, ax));
  const R n = V::round(V::mul(y, V::set1(1.44269504088896341f)));
  // With n <= 29 one float ln 2 suffices (the error of r is below 6e-8, and m's
  // relative error from it vanishes in tanh as m grows).
  const R r = V::fmadd(n, V::set1(-0.693147182464599609375f), y);
  const R q = expm1_reduced<V>(r);
  const R s = V::scale2(V::set1(1.0f), n);  // 2^n: s - 1 is exact
  const R m = V::fmadd(s, q, V::sub(s, V::set1(1.0f)));
  const R t = V::div(m, V::add(m, V::set1(2.0f)));
  return V::or_bits(t, V::sign_bits(x));
}

template <typename V>
inline typename V::Reg unary_op(SimdUnaryOp op, typename V::Reg x) {
  switch (op) {
    case SimdUnaryOp::Relu: return V::max(x, V::zero());  // x > 0 ? x : 0, NaN -> 0
    case SimdUnaryOp::Neg: return V::xor_bits(x, V::set1(-0.0f));
    case SimdUnaryOp::Exp: return vec_exp<V>(x);
    case SimdUnaryOp::Sigmoid: return vec_sigmoid<V>(x);
    case SimdUnaryOp::Tanh: return vec_tanh<V>(x);
  }
  return x;
}

template <typename V>
inline typename V::Reg binary_op(SimdBinaryOp op, typename V::Reg a, typename V::Reg b) {
  switch (op) {
    case SimdBinaryOp::Add: return V::add(a, b);
    case SimdBinaryOp::Sub: return V::sub(a, b);
    case SimdBinaryOp::Mul: return V::mul(a, b);
    case SimdBinaryOp::Div: return V::div(a, b);
  }
  return a;
}

// How many leading elements to write before out + i is aligned for a streaming store.
template <typename V>
inline int64_t elements_to_alignment(const float* out, int64_t n) {
  const int64_t misalign = int64_t(reinterpret_cast<uintptr_t>(out) % (V::kLanes * sizeof(float))) / 4;
  const int64_t head = misalign == 0 ? 0 : V::kLanes - misalign;
  return head < n ? head : n;
}

// out[i : i + lanes] = f(i) for whole vectors; tail(i, m) writes the m < lanes elements
// left at the end (and, when streaming, those before out's first aligned vector).
template <typename V, typename F, typename Tail>
inline void run_vectors(float* out, int64_t n, bool stream, F f, Tail tail) {
  int64_t i = 0;
  if (stream) {
    const int64_t head = elements_to_alignment<V>(out, n);
    if (head > 0) tail(0, head);
    for (i = head; i + V::kLanes <= n; i += V::kLanes) V::stream(out + i, f(i));
    V::fence();
  } else {
    for (; i + 2 * V::kLanes <= n; i += 2 * V::kLanes) {
      V::storeu(out + i, f(i));
      V::storeu(out + i + V::kLanes, f(i + V::kLanes));
    }
    for (; i + V::kLanes <= n; i += V::kLanes) V::storeu(out + i, f(i));
  }
  if (i < n) tail(i, n - i);
}

template <typename V>
void unary_run(SimdUnaryOp op, float* out, const float* x, int64_t n, bool stream) {
  // A partial vector: m < lanes elements starting at i.
  auto tail = [&](int64_t i, int64_t m) {
    float buf[V::kLanes] = {};
    std::memcpy(buf, x + i, size_t(m) * sizeof(float));
    V::storeu(buf, unary_op<V>(op, V::loadu(buf)));
    std::memcpy(out + i, buf, size_t(m) * sizeof(float));
  };
  // One loop per op, so the switch is decided outside it.
  switch (op) {
#define KILN_UNARY_CASE(OP) \
  case SimdUnaryOp::OP:     \
    return run_vectors<V>(out, n, stream, [&](int64_t i) { return unary_op<V>(SimdUnaryOp::OP, V::loadu(x + i)); }, tail);
    KILN_UNARY_CASE(Relu)
    KILN_UNARY_CASE(Neg)
    KILN_UNARY_CASE(Exp)
    KILN_UNARY_CASE(Sigmoid)
    KILN_UNARY_CASE(Tanh)
#undef KILN_UNARY_CASE
  }
}

// One (op, a_scalar, b_scalar) combination.
template <typename V, SimdBinaryOp kOp, bool kAScalar, bool kBScalar>
void binary_run_as(float* out, const float* a, const float* b, int64_t n, bool stream) {
  using R = typename V::Reg;
  const R as = V::set1(*a), bs = V::set1(*b);
  auto tail = [&](int64_t i, int64_t m) {
    float ba[V::kLanes] = {}, bb[V::kLanes] = {};
    if (!kAScalar) std::memcpy(ba, a + i, size_t(m) * sizeof(float));
    if (!kBScalar) std::memcpy(bb, b + i, size_t(m) * sizeof(float));
    V::storeu(ba, binary_op<V>(kOp, kAScalar ? as : V::loadu(ba), kBScalar ? bs : V::loadu(bb)));
    std::memcpy(out + i, ba, size_t(m) * sizeof(float));
  };
  run_vectors<V>(
      out, n, stream,
      [&](int64_t i) { return binary_op<V>(kOp, kAScalar ? as : V::loadu(a + i), kBScalar ? bs : V::loadu(b + i)); },
      tail);
}

template <typename V, SimdBinaryOp kOp>
void binary_run_op(float* out, const float* a, bool a_scalar, const float* b, bool b_scalar, int64_t n,
                   bool stream) {
  if (a_scalar) return binary_run_as<V, kOp, true, false>(out, a, b, n, stream);
  if (b_scalar) return binary_run_as<V, kOp, false, true>(out, a, b, n, stream);
  binary_run_as<V, kOp, false, false>(out, a, b, n, stream);
}

template <typename V>
void binary_run(SimdBinaryOp op, float* out, const float* a, bool a_scalar, const float* b, bool b_scalar,
                int64_t n, bool stream) {
  if (n <= 0) return;
  switch (op) {
    case SimdBinaryOp::Add: return binary_run_op<V, SimdBinaryOp::Add>(out, a, a_scalar, b, b_scalar, n, stream);
    case SimdBinaryOp::Sub: return binary_run_op<V, SimdBinaryOp::Sub>(out, a, a_scalar, b, b_scalar, n, stream);
    case SimdBinaryOp::Mul: return binary_run_op<V, SimdBinaryOp::Mul>(out, a, a_scalar, b, b_scalar, n, stream);
    case SimdBinaryOp::Div: return binary_run_op<V, SimdBinaryOp::Div>(out, a, a_scalar, b, b_scalar, n, stream);
  }
}

// SimdElementwise::lstm_cell_row: the four gates of a block of hidden units are read
// (and their pre-activations formed, (addend + bias) + gates as
// lstm_pointwise_preactivation) before any activation is stored, so act may be gates.
// The last hidden % lanes units go through zero-padded vectors.
template <typename V>
void lstm_cell_row(int64_t hidden, float* h, float* c_new, float* act, float* tanh_c, const float* gates,
                   const float* c, const float* addend, const float* bias) {
  using R = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  const auto load = [](const float* p, int64_t m) {
    if (m == L) return V::loadu(p);
    float buf[L] = {};
    std::memcpy(buf, p, size_t(m) * sizeof(float));
    return V::loadu(buf);
  };
  const auto store = [](float* p, R x, int64_t m) {
    if (m == L) return V::storeu(p, x);
    float buf[L];
    V::storeu(buf, x);
    std::memcpy(p, buf, size_t(m) * sizeof(float));
  };
  const auto pre = [&](int64_t q, int64_t m) {
    const R g = load(gates + q, m);
    if (addend && bias) return V::add(V::add(load(addend + q, m), load(bias + q, m)), g);
    if (addend) return V::add(load(addend + q, m), g);
    if (bias) return V::add(load(bias + q, m), g);
    return g;
  };
  for (int64_t j = 0; j < hidden; j += L) {
    const int64_t m = hidden - j < L ? hidden - j : L;
    const R i = vec_sigmoid<V>(pre(j, m)), f = vec_sigmoid<V>(pre(hidden + j, m));
    const R g = vec_tanh<V>(pre(2 * hidden + j, m)), o = vec_sigmoid<V>(pre(3 * hidden + j, m));
    store(act + j, i, m);
    store(act + hidden + j, f, m);
    store(act + 2 * hidden + j, g, m);
    store(act + 3 * hidden + j, o, m);
    const R cn = V::add(V::mul(f, load(c + j, m)), V::mul(i, g));
    const R tc = vec_tanh<V>(cn);
    store(c_new + j, cn, m);
    store(tanh_c + j, tc, m);
    store(h + j, V::mul(o, tc), m);
  }
}

}  // namespace
}  // namespace kiln::cpu
