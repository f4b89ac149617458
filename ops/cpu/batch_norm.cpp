// CPU kernels of the fused batch norm (ops/norm.cpp, contracts in ops/kernels/norm.h):
// per-channel statistics in one pass over x, the normalisation in a second, and the
// backward as one reduction pass plus one elementwise pass. See Note [Batch norm sums];
// the per-plane loops are ops/cpu/rows_loops.h (float32 per ISA, Note [SIMD row kernels]).
#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/rows_loops.h"
#include "ops/cpu/rows_simd.h"
#include "ops/kernels/norm.h"

namespace kiln {

// Note [Batch norm sums]
// x is (N, C, S) contiguous, so channel c is N runs ("planes") of S contiguous values.
// Sums accumulate in double (Note [Reduction accumulators] in ops/cpu/reduce.cpp) and
// come out the same for any thread count:
// - S >= kMinPlane: threads split the N * C planes. Each plane's sums (for the variance:
//   its mean and its centred sum of squares M2, two passes over a plane that sits in L1)
//   land in their own slot; one thread then folds each channel's N planes in order of n.
//   Planes combine by Chan et al.'s rule: for parts a, b of sizes na, nb,
//     mean = mean_a + d nb / n,   M2 = M2_a + M2_b + d^2 na nb / n,   d = mean_b - mean_a,
//   so x is read from memory once and the variance is not the cancellation-prone
//   E[x^2] - E[x]^2.
// - S < kMinPlane (2-D inputs, tiny images): a row of x (one n) is C S contiguous
//   values, and every per-channel quantity is spread over them once (a row of C S
//   values, the channel's value S times). Threads split the row's positions; each sums
//   its positions over n in order (mean first, then M2 about it), and one thread folds
//   each channel's S positions in order. The normalisation and the input gradient are
//   then one elementwise loop over each row against those spread rows: plane by plane
//   they were one call per plane of S values (S = 1 at ResNet-18's last stage on 32x32
//   images: 16384 calls, 90 us for 16384 values).
constexpr int64_t kMinPlane = 64;

namespace {

int64_t plane_grain(int64_t s) { return std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(s, 1)); }

// The S < kMinPlane path (Note [Batch norm sums]): per[c] spread over a row of C S
// values, per[c] at c S .. c S + S - 1.
template <typename T, typename U>
std::vector<T> spread_over_row(const U* per, int64_t c, int64_t s) {
  std::vector<T> row(size_t(c * s));
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < s; ++j) row[size_t(ch * s + j)] = T(per[ch]);
  return row;
}

// Calls f(e0, e1) for chunks of the row positions [0, row) over threads, each worth at
// least the elementwise grain over the n rows.
template <typename F>
void for_row_positions(int64_t n, int64_t row, F&& f) {
  cpu::parallel_for(0, row, std::max<int64_t>(16, cpu::kElementwiseGrain / std::max<int64_t>(n, 1)), f);
}

// Calls f(i0, i1) for chunks of the n rows over threads (the elementwise passes).
template <typename F>
void for_rows(int64_t n, int64_t row, F&& f) {
  cpu::parallel_for(0, n, std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(row, 1)), f);
}

// The sum over each channel's S positions of a spread row, in order of position.
std::vector<double> fold_positions(const std::vector<double>& spread, int64_t c, int64_t s) {
  std::vector<double> per(size_t(c), 0.0);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < s; ++j) per[size_t(ch)] += spread[size_t(ch * s + j)];
  return per;
}

// mean, var: (C); x: (N, C, S).
void batch_norm_stats_cpu(const Tensor& mean, const Tensor& var, const Tensor& x) {
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    const int64_t n = x.size(0), c = x.size(1), s = x.size(2);
    const T* xp = x.data_ptr<T>();
    T *mp = mean.data_ptr<T>(), *vp = var.data_ptr<T>();
    const double count = double(n * s);
    const cpu::RowKernels* simd = std::is_same_v<T, float> ? cpu::row_kernels() : nullptr;
    if (s >= kMinPlane) {
      // moments[2 (c N + n)]: plane (n, c)'s mean and M2.
      std::vector<double> moments(size_t(2 * n * c));
      cpu::parallel_for(0, n * c, plane_grain(s), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const size_t slot = size_t(2 * ((p % c) * n + p / c));
          if constexpr (std::is_same_v<T, float>) {
            if (simd != nullptr) {
              simd->plane_moments(xp + p * s, s, &moments[slot], &moments[slot + 1]);
              continue;
            }
          }
          cpu::plane_moments(xp + p * s, s, &moments[slot], &moments[slot + 1]);
        }
      });
      for (int64_t ch = 0; ch < c; ++ch) {
        double na = 0, ma = 0, m2a = 0;
        for (int64_t i = 0; i < n; ++i) {
          const double mb = moments[size_t(2 * (ch * n + i))], m2b = moments[size_t(2 * (ch * n + i) + 1)];
          const double nb = double(s), total = na + nb, d = mb - ma;
          ma += d * nb / total;
          m2a += m2b + d * d * na * nb / total;
          na = total;
        }
        mp[ch] = T(ma), vp[ch] = T(m2a / count);
      }
      return;
    }
    const int64_t row = c * s;
    std::vector<double> sums(size_t(row), 0.0);
    for_row_positions(n, row, [&](int64_t e0, int64_t e1) {
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = e0; e < e1; ++e) sums[size_t(e)] += double(xp[i * row + e]);
    });
    std::vector<double> means = fold_positions(sums, c, s);
    for (double& v : means) v /= count;
    const std::vector<double> mean_row = spread_over_row<double>(means.data(), c, s);
    std::fill(sums.begin(), sums.end(), 0.0);
    for_row_positions(n, row, [&](int64_t e0, int64_t e1) {
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = e0; e < e1; ++e) {
          const double d = double(xp[i * row + e]) - mean_row[size_t(e)];
          sums[size_t(e)] += d * d;
        }
    });
    const std::vector<double> m2 = fold_positions(sums, c, s);
    for (int64_t ch = 0; ch < c; ++ch) mp[ch] = T(means[size_t(ch)]), vp[ch] = T(m2[size_t(ch)] / count);
  });
}

// y, x: (N, C, S); mean, invstd: (C); weight, bias: (C) or undefined.
// y = (x - mean) * scale + bias with scale = invstd * weight: subtracting the mean first
// keeps the small deviations of a large-mean channel exact in float32.
void batch_norm_cpu(const Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                    const Tensor& bias) {
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    const int64_t n = x.size(0), c = x.size(1), s = x.size(2);
    const T *xp = x.data_ptr<T>(), *mp = mean.data_ptr<T>(), *ip = invstd.data_ptr<T>();
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data_ptr<T>() : nullptr;
    T* yp = y.data_ptr<T>();
    const cpu::RowKernels* simd = std::is_same_v<T, float> ? cpu::row_kernels() : nullptr;
    std::vector<T> scale(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ++ch) scale[size_t(ch)] = wp ? T(double(ip[ch]) * double(wp[ch])) : ip[ch];
    if (s < kMinPlane) {  // one loop over each row against the spread parameters
      const int64_t row = c * s;
      const std::vector<T> m = spread_over_row<T>(mp, c, s), k = spread_over_row<T>(scale.data(), c, s);
      const std::vector<T> b = bp ? spread_over_row<T>(bp, c, s) : std::vector<T>(size_t(row), T(0));
      for_rows(n, row, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          cpu::batch_norm_span(xp + i * row, yp + i * row, row, m.data(), k.data(), b.data());
      });
      return;
    }
    cpu::parallel_for(0, n * c, plane_grain(s), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t ch = p % c;
        const T m = mp[ch], k = scale[size_t(ch)], b = bp ? bp[ch] : T(0);
        if constexpr (std::is_same_v<T, float>) {
          if (simd != nullptr) {
            simd->batch_norm_plane(xp + p * s, yp + p * s, s, m, k, b);
            continue;
          }
        }
        cpu::batch_norm_plane(xp + p * s, yp + p * s, s, m, k, b);
      }
    });
  });
}

// Per channel, with M = N S values, xhat = (x - mean) invstd and w = weight (or 1):
//   dbias = sum(dy),   dweight = sum(dy xhat) = invstd sum(dy (x - mean)),
//   training: dx = w invstd (dy - dbias / M - xhat dweight / M)
//           = a ((dy - k) - (x - mean) b),  a = w invstd, k = dbias / M, b = invstd dweight / M
//   eval:     dx = a dy (mean and invstd are constants).
// In T, the large factor a (up to 1 / sqrt(eps)) last: it scales the rounding of one
// difference only, and dy - k is exactly 0 where dy is constant over the channel.
void batch_norm_backward_cpu(const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const Tensor& dy,
                             const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                             bool training) {
  dispatch_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    const int64_t n = x.size(0), c = x.size(1), s = x.size(2);
    const T *xp = x.data_ptr<T>(), *gp = dy.data_ptr<T>(), *mp = mean.data_ptr<T>(), *ip = invstd.data_ptr<T>();
    const T* wp = weight.defined() ? weight.data_ptr<T>() : nullptr;
    const cpu::RowKernels* simd = std::is_same_v<T, float> ? cpu::row_kernels() : nullptr;
    // sums[2 ch]: sum(dy), sum(dy (x - mean)) of channel ch.
    std::vector<double> sums(size_t(2 * c), 0.0);
    const bool need_sums = training || dweight.defined() || dbias.defined();
    if (need_sums && s >= kMinPlane) {
      std::vector<double> planes(size_t(2 * n * c));
      cpu::parallel_for(0, n * c, plane_grain(s), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const double m = double(mp[p % c]);
          const size_t slot = size_t(2 * ((p % c) * n + p / c));
          if constexpr (std::is_same_v<T, float>) {
            if (simd != nullptr) {
              simd->plane_grad_sums(xp + p * s, gp + p * s, s, m, &planes[slot], &planes[slot + 1]);
              continue;
            }
          }
          cpu::plane_grad_sums(xp + p * s, gp + p * s, s, m, &planes[slot], &planes[slot + 1]);
        }
      });
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t i = 0; i < n; ++i) {
          sums[size_t(2 * ch)] += planes[size_t(2 * (ch * n + i))];
          sums[size_t(2 * ch + 1)] += planes[size_t(2 * (ch * n + i) + 1)];
        }
    } else if (need_sums) {
      const int64_t row = c * s;
      const std::vector<double> mean_row = spread_over_row<double>(mp, c, s);
      std::vector<double> sum_dy(size_t(row), 0.0), sum_dy_xc(size_t(row), 0.0);
      for_row_positions(n, row, [&](int64_t e0, int64_t e1) {
        for (int64_t i = 0; i < n; ++i)
          for (int64_t e = e0; e < e1; ++e) {
            const double g = double(gp[i * row + e]);
            sum_dy[size_t(e)] += g;
            sum_dy_xc[size_t(e)] += g * (double(xp[i * row + e]) - mean_row[size_t(e)]);
          }
      });
      const std::vector<double> per_dy = fold_positions(sum_dy, c, s), per_dy_xc = fold_positions(sum_dy_xc, c, s);
      for (int64_t ch = 0; ch < c; ++ch)
        sums[size_t(2 * ch)] = per_dy[size_t(ch)], sums[size_t(2 * ch + 1)] = per_dy_xc[size_t(ch)];
    }
    const double count = double(n * s);
    std::vector<T> a(static_cast<size_t>(c)), b(a), k(a);
    for (int64_t ch = 0; ch < c; ++ch) {
      const double inv = double(ip[ch]), w = wp ? double(wp[ch]) : 1.0;
      const double sum_dy = sums[size_t(2 * ch)], sum_dy_xhat = inv * sums[size_t(2 * ch + 1)];
      if (dweight.defined()) dweight.data_ptr<T>()[ch] = T(sum_dy_xhat);
      if (dbias.defined()) dbias.data_ptr<T>()[ch] = T(sum_dy);
      a[size_t(ch)] = T(w * inv);
      b[size_t(ch)] = T(inv * sum_dy_xhat / count);
      k[size_t(ch)] = T(sum_dy / count);
    }
    if (!dx.defined()) return;
    T* dxp = dx.data_ptr<T>();
    if (s < kMinPlane) {  // one loop over each row against the spread coefficients
      const int64_t row = c * s;
      const std::vector<T> ar = spread_over_row<T>(a.data(), c, s), br = spread_over_row<T>(b.data(), c, s);
      const std::vector<T> kr = spread_over_row<T>(k.data(), c, s), mr = spread_over_row<T>(mp, c, s);
      for_rows(n, row, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const T* g = gp + i * row;
          T* out = dxp + i * row;
          if (!training) {
            for (int64_t e = 0; e < row; ++e) out[e] = g[e] * ar[size_t(e)];
          } else {
            cpu::batch_norm_backward_span(xp + i * row, g, out, row, mr.data(), ar.data(), kr.data(), br.data());
          }
        }
      });
      return;
    }
    cpu::parallel_for(0, n * c, plane_grain(s), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t ch = p % c;
        const T *in = xp + p * s, *g = gp + p * s;
        T* out = dxp + p * s;
        const T ac = a[size_t(ch)], bc = b[size_t(ch)], kc = k[size_t(ch)], m = mp[ch];
        if (!training) {
          for (int64_t j = 0; j < s; ++j) out[j] = g[j] * ac;
          continue;
        }
        if constexpr (std::is_same_v<T, float>) {
          if (simd != nullptr) {
            simd->batch_norm_backward_plane(in, g, out, s, m, ac, kc, bc);
            continue;
          }
        }
        cpu::batch_norm_backward_plane(in, g, out, s, m, ac, kc, bc);
      }
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(batch_norm_stats_stub, DeviceType::CPU, batch_norm_stats_cpu);
KILN_REGISTER_KERNEL(batch_norm_stub, DeviceType::CPU, batch_norm_cpu);
KILN_REGISTER_KERNEL(batch_norm_backward_stub, DeviceType::CPU, batch_norm_backward_cpu);

}  // namespace kiln
