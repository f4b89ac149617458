// The accumulators of the reductions (sum, prod, var, norm, amax/amin, max/min with
// indices, all/any), shared by the CPU kernels (ops/cpu/reduce.cpp) and the CUDA kernels
// (cuda/reduce.cu) so that both devices fold elements with one definition. See
// Note [Reduction accumulators].
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/half.h"
#include "core/host_device.h"

namespace kiln {

// NOTE: an unnamed namespace in a header, on purpose: each of the two kernel files gets
// its own internal copy, as when each defined them. With external (comdat) linkage GCC
// inlines the CPU loops differently: max(dim)'s column loop ran 2 more instructions
// per element (callgrind), although every method is the same.
namespace {

// Note [Reduction accumulators]
// A reduction is an accumulator type with
//   add(v, r)     fold in the element at position r of the reduced dim;
//   merge(other)  fold in the partial result of another, disjoint set of positions;
// the kernel's write(i, acc) turns the final state into output element i. merge lets
// the work of one output be split (the CPU cuts a few long rows into ranges merged in
// order; a CUDA block folds strided positions per thread and merges them as a tree).
// The default member initialisers are each reduction's identity, so `Acc{}` is the
// starting state on either device. The methods are inline and non-virtual: the CPU's
// loops compile to the same code as a hand-written one.
//
// float32 inputs accumulate in double. A float has 24 significant bits: once a running
// float32 sum is 2^24 times larger than the next addend, that addend is lost entirely
// (16777216.f + 1.f == 16777216.f), so a float32 running sum of 16M ones stops at 2^24
// and the error of a plain float32 loop grows like n * 2^-24. In double the same loop
// errs by about n * 2^-53, far below float32's resolution for any tensor that fits in
// memory, so the result is the true sum rounded once to float32 (as close as PyTorch's
// pairwise float32 summation gets, without its bookkeeping).
// float16 and bfloat16 sums (and means) accumulate in double as well and round once to
// the 16-bit type: at least as accurate as PyTorch's float32 accumulator for them.
template <typename T>
constexpr bool is_float_like_v = std::is_floating_point_v<T> || is_16bit_float_v<T>;
template <typename T>
using acc_t = std::conditional_t<is_float_like_v<T>, double, T>;

// Constants the accumulators need on both devices. Namespace-scope constexpr scalars,
// which CUDA lets device code read (a call to std::numeric_limits there would not be).
constexpr double kReduceNaN = std::numeric_limits<double>::quiet_NaN();
// The identity of max/min: -inf/+inf for floats (so a row of -inf gives -inf), the
// extreme representable value for integers.
template <typename T, bool kMax>
constexpr T extremum_identity() {
  using L = std::numeric_limits<T>;
  if constexpr (L::has_infinity) {
    return kMax ? -L::infinity() : L::infinity();
  } else {
    return kMax ? L::lowest() : L::max();
  }
}
template <typename T, bool kMax>
constexpr T kExtremumIdentity = extremum_identity<T, kMax>();

// NaN test that also compiles for integer T (always false there).
template <typename T>
KILN_HOST_DEVICE inline bool reduce_is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

template <typename T>
struct SumAcc {
  acc_t<T> total = 0;
  KILN_HOST_DEVICE void add(T v, int64_t) { total += acc_t<T>(opmath_t<T>(v)); }
  KILN_HOST_DEVICE void merge(const SumAcc& o) { total += o.total; }
};

template <typename T>
struct ProdAcc {
  acc_t<T> total = 1;
  KILN_HOST_DEVICE void add(T v, int64_t) { total *= acc_t<T>(v); }
  KILN_HOST_DEVICE void merge(const ProdAcc& o) { total *= o.total; }
};

// Welford's running mean and sum of squared deviations (m2), merged with Chan et al.'s
// formula: one pass, no cancellation of sum(x^2) - n mean^2.
//   add:   n += 1; d = v - mean; mean += d / n; m2 += d (v - mean)
//   merge: d = mean_b - mean_a; mean = mean_a + d n_b / n; m2 = m2_a + m2_b + d^2 n_a n_b / n
template <typename T>
struct VarAcc {
  double n = 0, mean = 0, m2 = 0;
  KILN_HOST_DEVICE void add(T v, int64_t) {
    n += 1;
    double d = double(v) - mean;
    mean += d / n;
    m2 += d * (double(v) - mean);
  }
  KILN_HOST_DEVICE void merge(const VarAcc& o) {
    if (o.n == 0) return;
    if (n == 0) {
      *this = o;
      return;
    }
    double total = n + o.n;
    double d = o.mean - mean;
    mean += d * o.n / total;
    m2 += o.m2 + d * d * n * o.n / total;
    n = total;
  }
  // var = m2 / (n - correction); no degrees of freedom left gives NaN, as PyTorch.
  KILN_HOST_DEVICE double variance(double correction) const {
    double dof = n - correction;
    return dof > 0 ? m2 / dof : kReduceNaN;
  }
};

// ||x||_p = (sum |x|^p)^(1/p), with the common p's taken apart: p = 1 sums |x|, p = 2
// sums squares (one multiply instead of a pow), p = inf takes max |x| (NaN propagates).
enum class NormKind { One, Two, Inf, General };

template <typename T>
struct NormAcc {
  NormKind kind = NormKind::Two;
  double p = 2;
  double total = 0;  // sum of |x|^p, or max |x| for p = inf
  KILN_HOST_DEVICE void add(T v, int64_t) {
    double a = std::fabs(double(v));
    switch (kind) {
      case NormKind::One: total += a; break;
      case NormKind::Two: total += a * a; break;
      case NormKind::Inf: total = (std::isnan(a) || a > total) ? a : total; break;
      case NormKind::General: total += std::pow(a, p); break;
    }
  }
  KILN_HOST_DEVICE void merge(const NormAcc& o) {
    if (kind == NormKind::Inf) {
      total = (std::isnan(o.total) || o.total > total) ? o.total : total;
    } else {
      total += o.total;
    }
  }
  KILN_HOST_DEVICE double norm() const {
    switch (kind) {
      case NormKind::One: return total;
      case NormKind::Two: return std::sqrt(total);
      case NormKind::Inf: return total;
      case NormKind::General: break;
    }
    return std::pow(total, 1.0 / p);
  }
};

// Is v a better extremum than best? NaN beats every number (it propagates, as in
// PyTorch); between equal values the one already held stays.
template <typename T, bool kMax>
KILN_HOST_DEVICE inline bool extremum_better(T v, T best) {
  if (reduce_is_nan(v)) return !reduce_is_nan(best);
  return kMax ? v > best : v < best;
}

template <typename T, bool kMax>
struct ExtremumAcc {
  T best = kExtremumIdentity<T, kMax>;
  KILN_HOST_DEVICE void add(T v, int64_t) {
    if (extremum_better<T, kMax>(v, best)) best = v;
  }
  KILN_HOST_DEVICE void merge(const ExtremumAcc& o) { add(o.best, 0); }
};

// Like ExtremumAcc, and remembers where: the first index of the extremum. add sees
// positions in increasing order, so a tie keeps the earlier one. merge takes the other
// range's result when it is better, or equal (both NaN included) at a smaller index:
// that keeps the first index whatever order partial results are merged in (a CUDA
// block's threads hold interleaved positions); for a later range, as the CPU merges,
// the tie never goes to the other.
template <typename T, bool kMax>
struct ArgExtremumAcc {
  T best{};
  int64_t index = -1;  // -1: nothing seen yet
  KILN_HOST_DEVICE void add(T v, int64_t r) {
    if (index < 0 || extremum_better<T, kMax>(v, best)) {
      best = v;
      index = r;
    }
  }
  KILN_HOST_DEVICE void merge(const ArgExtremumAcc& o) {
    if (o.index < 0) return;
    if (index < 0 || extremum_better<T, kMax>(o.best, best) ||
        (o.index < index && !extremum_better<T, kMax>(best, o.best)))
      *this = o;
  }
};

template <typename T>
struct AllAcc {
  bool value = true;
  KILN_HOST_DEVICE void add(T v, int64_t) { value = value && v != T(0); }
  KILN_HOST_DEVICE void merge(const AllAcc& o) { value = value && o.value; }
};

template <typename T>
struct AnyAcc {
  bool value = false;
  KILN_HOST_DEVICE void add(T v, int64_t) { value = value || v != T(0); }
  KILN_HOST_DEVICE void merge(const AnyAcc& o) { value = value || o.value; }
};

}  // namespace

}  // namespace kiln
