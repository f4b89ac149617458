// The inner loops of the row and channel kernels (layer norm backward, softmax backward,
// batch norm), written once as templates: ops/cpu/norm.cpp, softmax.cpp and
// batch_norm.cpp run them as the scalar reference and for float64; rows_avx2.cpp and
// rows_avx512.cpp compile their float32 copies with wider vectors (ops/cpu/rows_simd.h).
#pragma once

#include <cstdint>

namespace kiln::cpu {

// NOTE: everything below sits in an unnamed namespace and calls no shared template (as
// ops/cpu/elementwise_vec.h): each ISA file compiles its own copy with its own -m flags,
// and a shared inline copy could be linked for everybody.
//
// Sums accumulate in double (Note [Reduction accumulators] in ops/cpu/reduce.cpp), in
// kRowLanes running sums side by side that are added at the end: the compiler may then
// vectorise the loop, which a single in-order sum forbids.
namespace {

constexpr int64_t kRowLanes = 8;

inline double add_lanes(const double* lanes) {
  double sum = 0;
  for (int64_t l = 0; l < kRowLanes; ++l) sum += lanes[l];
  return sum;
}

// x: (s). The plane's mean and its centred sum of squares M2 = sum (x - mean)^2, the
// second pass from cache. See Note [Batch norm sums] in ops/cpu/batch_norm.cpp.
template <typename T>
inline void plane_moments(const T* __restrict x, int64_t s, double* mean, double* m2) {
  double a[kRowLanes] = {};
  int64_t j = 0;
  for (; j + kRowLanes <= s; j += kRowLanes)
    for (int64_t l = 0; l < kRowLanes; ++l) a[l] += double(x[j + l]);
  for (; j < s; ++j) a[0] += double(x[j]);
  const double m = add_lanes(a) / double(s);
  double b[kRowLanes] = {};
  for (j = 0; j + kRowLanes <= s; j += kRowLanes)
    for (int64_t l = 0; l < kRowLanes; ++l) {
      const double d = double(x[j + l]) - m;
      b[l] += d * d;
    }
  for (; j < s; ++j) b[0] += (double(x[j]) - m) * (double(x[j]) - m);
  *mean = m;
  *m2 = add_lanes(b);
}

// x, g: (s). sum(g) and sum(g (x - m)) in one pass.
template <typename T>
inline void plane_grad_sums(const T* __restrict x, const T* __restrict g, int64_t s, double m, double* sum_g,
                            double* sum_g_xm) {
  double a[kRowLanes] = {}, b[kRowLanes] = {};
  int64_t j = 0;
  for (; j + kRowLanes <= s; j += kRowLanes)
    for (int64_t l = 0; l < kRowLanes; ++l) {
      a[l] += double(g[j + l]);
      b[l] += double(g[j + l]) * (double(x[j + l]) - m);
    }
  for (; j < s; ++j) {
    a[0] += double(g[j]);
    b[0] += double(g[j]) * (double(x[j]) - m);
  }
  *sum_g = add_lanes(a);
  *sum_g_xm = add_lanes(b);
}

// x, y: (s). y = (x - m) k + b.
template <typename T>
inline void batch_norm_plane(const T* __restrict x, T* __restrict y, int64_t s, T m, T k, T b) {
  for (int64_t j = 0; j < s; ++j) y[j] = (x[j] - m) * k + b;
}

// x, g, dx: (s). dx = a ((g - k) - (x - m) b).
template <typename T>
inline void batch_norm_backward_plane(const T* __restrict x, const T* __restrict g, T* __restrict dx, int64_t s, T m,
                                      T a, T k, T b) {
  for (int64_t j = 0; j < s; ++j) dx[j] = a * ((g[j] - k) - (x[j] - m) * b);
}

// The two formulas above with a parameter per value (a row of C S values against the
// per-channel parameters spread over a row: Note [Batch norm sums], small planes).
template <typename T>
inline void batch_norm_span(const T* __restrict x, T* __restrict y, int64_t len, const T* __restrict m,
                            const T* __restrict k, const T* __restrict b) {
  for (int64_t j = 0; j < len; ++j) y[j] = (x[j] - m[j]) * k[j] + b[j];
}

template <typename T>
inline void batch_norm_backward_span(const T* __restrict x, const T* __restrict g, T* __restrict dx, int64_t len,
                                     const T* __restrict m, const T* __restrict a, const T* __restrict k,
                                     const T* __restrict b) {
  for (int64_t j = 0; j < len; ++j) dx[j] = a[j] * ((g[j] - k[j]) - (x[j] - m[j]) * b[j]);
}

// One row of layer norm: the row's mean and centred sum of squares M2 as batch norm's
// plane_moments finds them, rstd = 1 / sqrt(M2 / cols + eps), then y = (x - mean) rstd,
// times w and plus b where given, in T. Returns the mean and rstd through *mean, *rstd.
template <typename T, bool kWeight, bool kBias>
inline void layer_norm_row(const T* __restrict x, const T* __restrict w, const T* __restrict b, T* __restrict y,
                           int64_t cols, double eps, T* mean, T* rstd) {
  double mu = 0, m2 = 0;
  plane_moments(x, cols, &mu, &m2);
  const double inv = 1.0 / __builtin_sqrt(m2 / double(cols) + eps);
  *mean = T(mu), *rstd = T(inv);
  const T m = T(mu), v = T(inv);
  for (int64_t k = 0; k < cols; ++k) {
    T h = (x[k] - m) * v;
    if constexpr (kWeight) h = h * w[k];
    if constexpr (kBias) h = h + b[k];
    y[k] = h;
  }
}

// layer_norm_row with the weight and the bias each optional (nullptr).
template <typename T>
inline void layer_norm_row_any(const T* x, const T* w, const T* b, T* y, int64_t cols, double eps, T* mean, T* rstd) {
  if (w != nullptr && b != nullptr) layer_norm_row<T, true, true>(x, w, b, y, cols, eps, mean, rstd);
  else if (w != nullptr) layer_norm_row<T, true, false>(x, w, b, y, cols, eps, mean, rstd);
  else if (b != nullptr) layer_norm_row<T, false, true>(x, w, b, y, cols, eps, mean, rstd);
  else layer_norm_row<T, false, false>(x, w, b, y, cols, eps, mean, rstd);
}

// One row of the layer norm backward: dx = rstd (dxh - mean(dxh) - x_hat mean(dxh x_hat))
// with dxh = dy * weight and x_hat = (x - mean) rstd. The first loop reads x and dy for
// both row sums; with kAcc a second adds dy x_hat and dy into the thread's dweight and
// dbias sums acc[0, cols) and acc[cols, 2 cols); the last writes dx. The row stays in
// cache after the first.
template <typename T, bool kWeight, bool kAcc>
inline void layer_norm_backward_row(const T* __restrict x, const T* __restrict g, const T* __restrict w,
                                    T* __restrict dx, double* __restrict acc, int64_t cols, double m, double v) {
  double s1[kRowLanes] = {}, s2[kRowLanes] = {};
  int64_t j = 0;
  for (; j + kRowLanes <= cols; j += kRowLanes)
    for (int64_t l = 0; l < kRowLanes; ++l) {
      const double xh = (double(x[j + l]) - m) * v, gj = double(g[j + l]);
      const double d = kWeight ? gj * double(w[j + l]) : gj;
      s1[l] += d;
      s2[l] += d * xh;
    }
  for (; j < cols; ++j) {
    const double xh = (double(x[j]) - m) * v, gj = double(g[j]);
    const double d = kWeight ? gj * double(w[j]) : gj;
    s1[0] += d;
    s2[0] += d * xh;
  }
  // The weight and bias sums in a loop of their own: inside the lane loop above they kept
  // the compiler from vectorising it (scalar double arithmetic and lane inserts, 54 % of a
  // layer norm forward and backward).
  if constexpr (kAcc) {
    double* __restrict accw = acc;
    double* __restrict accb = acc + cols;
    for (int64_t k = 0; k < cols; ++k) {
      const double xh = (double(x[k]) - m) * v, gk = double(g[k]);
      accw[k] += gk * xh;
      accb[k] += gk;
    }
  }
  // dx = v ((dxh - mean(dxh)) - (x - m) v mean(dxh x_hat)), in T like the forward's
  // normalisation: x - m first, so a large mean cancels exactly, and the large factor v
  // (up to 1 / sqrt(eps)) last, so it scales the rounding of one difference only.
  const T a = T(v), b = T(v * add_lanes(s2) / double(cols)), c = T(add_lanes(s1) / double(cols));
  const T mt = T(m);
  for (int64_t k = 0; k < cols; ++k) {
    const T d = kWeight ? g[k] * w[k] : g[k];
    dx[k] = a * ((d - c) - (x[k] - mt) * b);
  }
}

// layer_norm_backward_row with the weight (w) and the sums (acc) each optional (nullptr).
template <typename T>
inline void layer_norm_backward_row_any(const T* x, const T* g, const T* w, T* dx, double* acc, int64_t cols,
                                        double m, double v) {
  if (w != nullptr && acc != nullptr) layer_norm_backward_row<T, true, true>(x, g, w, dx, acc, cols, m, v);
  else if (w != nullptr) layer_norm_backward_row<T, true, false>(x, g, w, dx, acc, cols, m, v);
  else if (acc != nullptr) layer_norm_backward_row<T, false, true>(x, g, w, dx, acc, cols, m, v);
  else layer_norm_backward_row<T, false, false>(x, g, w, dx, acc, cols, m, v);
}

// y, g, dx: (n). softmax's backward, dx = y (g - sum(g y)).
template <typename T>
inline void softmax_backward_row(const T* __restrict y, const T* __restrict g, T* __restrict dx, int64_t n) {
  double a[kRowLanes] = {};
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes)
    for (int64_t l = 0; l < kRowLanes; ++l) a[l] += double(g[j + l]) * double(y[j + l]);
  for (; j < n; ++j) a[0] += double(g[j]) * double(y[j]);
  const T s = T(add_lanes(a));
  for (int64_t k = 0; k < n; ++k) dx[k] = y[k] * (g[k] - s);
}

// g: (n). sum(g), for log_softmax's backward dx = g - exp(y) sum(g).
template <typename T>
inline double row_sum(const T* __restrict g, int64_t n) {
  double a[kRowLanes] = {};
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes)
    for (int64_t l = 0; l < kRowLanes; ++l) a[l] += double(g[j + l]);
  for (; j < n; ++j) a[0] += double(g[j]);
  return add_lanes(a);
}

// x: rows of `cols` values, row r at x + r * ld. acc[j] += x[r, j] for every row in
// order: each column's sum is a plain running sum in double, as the reductions' column
// walk (ops/cpu/reduce.cpp) adds, here at the ISA's vector width.
template <typename T>
inline void column_sums(const T* __restrict x, int64_t rows, int64_t ld, int64_t cols, double* __restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * ld;
    for (int64_t j = 0; j < cols; ++j) acc[j] += double(row[j]);
  }
}

// x: (n). The largest x[j], NaNs passed over (-inf for none), as softmax's scalar loop
// `m = std::max(m, x)` finds it: in kRowLanes maxima side by side, since a single
// running max is a chain of dependent compares (one element every few cycles), where
// lanes of `m < v ? v : m` become vector max instructions. The maximum does not depend
// on the order, so the result is the scalar loop's.
template <typename T>
inline T row_max(const T* __restrict x, int64_t n) {
  T m[kRowLanes];
  for (int64_t l = 0; l < kRowLanes; ++l) m[l] = -T(__builtin_inff());  // no std:: template here
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes)
    for (int64_t l = 0; l < kRowLanes; ++l) m[l] = m[l] < x[j + l] ? x[j + l] : m[l];
  for (; j < n; ++j) m[0] = m[0] < x[j] ? x[j] : m[0];
  T out = m[0];
  for (int64_t l = 1; l < kRowLanes; ++l) out = out < m[l] ? m[l] : out;
  return out;
}

// x, y: (n), y may be x. y = x + b (softmax's shift x - m, as x + (-m): the same bits).
template <typename T>
inline void row_add(const T* x, T* y, int64_t n, T b) {
  for (int64_t k = 0; k < n; ++k) y[k] = x[k] + b;
}

// y: (n). y *= s.
template <typename T>
inline void row_scale(T* __restrict y, int64_t n, T s) {
  for (int64_t k = 0; k < n; ++k) y[k] *= s;
}

// g, e, dx: (n), e = exp(y) (may be dx itself). dx = g - e s.
template <typename T>
inline void log_softmax_backward_combine(const T* __restrict g, const T* e, T* dx, int64_t n, T s) {
  for (int64_t k = 0; k < n; ++k) dx[k] = g[k] - e[k] * s;
}

}  // namespace
}  // namespace kiln::cpu
