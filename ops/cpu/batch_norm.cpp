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
// - S < kMinPlane (2-D inputs, tiny images): threads split blocks of neighbouring
//   channels; each walks n in order over its block's contiguous span, mean first, then
//   M2 about it.
constexpr int64_t kMinPlane = 16;
constexpr int64_t kChannelBlock = 256;  // values per n that a block of channels spans, at most

namespace {

int64_t plane_grain(int64_t s) { return std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(s, 1)); }

// Channels per block on the S < kMinPlane path: about kChannelBlock values per n.
int64_t channels_per_block(int64_t s) { return std::max<int64_t>(1, kChannelBlock / std::max<int64_t>(s, 1)); }

// Calls f(block_first_channel, block_channels) for blocks of channels over threads.
template <typename F>
void for_channel_blocks(int64_t n, int64_t c, int64_t s, F&& f) {
  const int64_t cb = channels_per_block(s), blocks = (c + cb - 1) / cb;
  const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(n * cb * s, 1));
  cpu::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) f(b * cb, std::min(cb, c - b * cb));
  });
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
    for_channel_blocks(n, c, s, [&](int64_t c0, int64_t cb) {
      std::vector<double> sum(size_t(cb), 0.0), m2(size_t(cb), 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const T* span = xp + (i * c + c0) * s;
        for (int64_t k = 0; k < cb; ++k)
          for (int64_t j = 0; j < s; ++j) sum[size_t(k)] += double(span[k * s + j]);
      }
      for (double& v : sum) v /= count;
      for (int64_t i = 0; i < n; ++i) {
        const T* span = xp + (i * c + c0) * s;
        for (int64_t k = 0; k < cb; ++k)
          for (int64_t j = 0; j < s; ++j) {
            const double d = double(span[k * s + j]) - sum[size_t(k)];
            m2[size_t(k)] += d * d;
          }
      }
      for (int64_t k = 0; k < cb; ++k) mp[c0 + k] = T(sum[size_t(k)]), vp[c0 + k] = T(m2[size_t(k)] / count);
    });
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
      for_channel_blocks(n, c, s, [&](int64_t c0, int64_t cb) {
        for (int64_t i = 0; i < n; ++i) {
          const T *in = xp + (i * c + c0) * s, *g = gp + (i * c + c0) * s;
          for (int64_t k = 0; k < cb; ++k) {
            const double m = double(mp[c0 + k]);
            for (int64_t j = 0; j < s; ++j) {
              sums[size_t(2 * (c0 + k))] += double(g[k * s + j]);
              sums[size_t(2 * (c0 + k) + 1)] += double(g[k * s + j]) * (double(in[k * s + j]) - m);
            }
          }
        }
      });
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
