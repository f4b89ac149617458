// CUDA kernels of ctc_loss (ops/ctc.cpp, contract in ops/kernels/ctc.h), the device twin
// of ops/cpu/ctc.cpp: a block per sample, its threads across the extended labels, the
// alpha and beta recursions in log space and float64. See Note [CUDA CTC] below and
// Note [CTC in log space] in ops/cpu/ctc.cpp. Parity: tests/cuda/ctc_parity_test.cpp.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include <math_constants.h>

#include "core/dispatch.h"
#include "core/factory.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/ctc.h"

namespace kiln {

namespace {

// Note [CUDA CTC]
// Sample b's recursions are sequential in t and parallel in s (the 2L + 1 extended
// labels), so a block takes one sample, thread k the positions s = k, k + blockDim, ...
// and every time step ends with a __syncthreads (row t - 1 is complete before row t
// reads it; global memory writes of a block are visible to the block after it).
//   forward:  alpha row t straight into log_alpha (N, T, W), which the backward reuses;
//             rows past the input length and positions past 2L are -inf, as on the CPU.
//   backward: beta only ever needs row t + 1, so it lives in two ping-pong rows per
//             sample (N, 2, W) instead of the CPU's full (T, S) table. At step t the
//             block first writes every class's gradient as if its posterior were zero
//             (the value of classes not in the target, the same formula with -inf) and
//             beta row t; after the step's one barrier it overwrites the classes that
//             are in the target: the blank (warp 0 log-sums the even s, then a shuffle
//             tree) and each distinct label (the thread of its first position in the
//             target walks the chain of its later positions, links built once per
//             sample). Row t's writes after the barrier touch nothing that step t - 1
//             writes before its barrier (the other beta row, gradient row t - 1), so
//             one barrier per step is enough.
// The blank's posterior terms are grouped differently from the CPU's (which adds in
// order of s; each label's terms are added in the CPU's order), and the device's exp/log
// differ from glibc's in the last bits, so results agree with the CPU's to rounding
// errors that grow with T, not bit for bit.
constexpr unsigned kCtcThreads = 256;  // at most, per block; a multiple of 32

__device__ inline double neg_inf() { return -CUDART_INF; }

// dnll/dlog_probs for a class whose log posterior sum is `log_post` (see ops/ctc.cpp):
// (exp(y) - exp(log_post + nll - y)) * g, evaluated in the CPU's order.
__device__ double ctc_grad(double y, double log_post, double nll, double g) {
  return (::exp(y) - ::exp(log_post + nll - y)) * g;
}

// The per-sample lengths a kernel reads, as one (3, N) int64 device array:
// [0, N) target offsets, [N, 2N) input lengths, [2N, 3N) target lengths.
Tensor sample_lengths(const IntList& target_offsets, const IntList& input_lengths, const IntList& target_lengths,
                      Device device) {
  std::vector<int64_t> all(target_offsets.begin(), target_offsets.end());
  all.insert(all.end(), input_lengths.begin(), input_lengths.end());
  all.insert(all.end(), target_lengths.begin(), target_lengths.end());
  return tensor(all, Shape{3, int64_t(target_offsets.size())}).to(device);
}

// Threads for a block whose loops run over `width` positions: a multiple of 32, at
// most kCtcThreads (the loops stride over the rest).
unsigned ctc_threads(int64_t width) {
  const int64_t rounded = (std::max<int64_t>(width, 1) + 31) / 32 * 32;
  return unsigned(std::min<int64_t>(rounded, kCtcThreads));
}

// log_probs: (max_t, N, C); targets: concatenated labels; lengths: (3, N) (sample_lengths);
// nll: (N); log_alpha: (N, max_t, W). Block b computes sample b.
template <typename T>
__global__ void __launch_bounds__(kCtcThreads)
    ctc_loss_forward_kernel1(T* nll, double* log_alpha, const T* log_probs, const int64_t* targets,
                             const int64_t* lengths, int64_t max_t, int64_t N, int64_t C, int64_t W, int64_t blank) {
  const int64_t b = blockIdx.x;
  const int64_t* labels = targets + lengths[b];
  const int64_t input_length = lengths[N + b], L = lengths[2 * N + b];
  double* la = log_alpha + b * max_t * W;  // la[t * W + s] = log alpha_t(s)
  auto lp = [&](int64_t t, int64_t c) { return double(log_probs[(t * N + b) * C + c]); };

  for (int64_t t = 0; t < input_length; ++t) {  // the same count for every thread of the block
    double* cur = la + t * W;
    const double* prev = t > 0 ? cur - W : cur;  // read only when t > 0
    for (int64_t s = threadIdx.x; s < W; s += blockDim.x) {
      double v = neg_inf();
      if (s <= 2 * L) {
        const int64_t label = ctc_extended_label(labels, s, blank);
        if (t == 0) {
          if (s < 2) v = lp(0, label);  // alpha_0(0) = y_0(_), alpha_0(1) = y_0(l_0)
        } else {
          const double a2 = s > 0 ? prev[s - 1] : neg_inf();
          const double a3 = s > 1 && ctc_extended_label(labels, s - 2, blank) != label ? prev[s - 2] : neg_inf();
          v = ctc_log_add3(prev[s], a2, a3) + lp(t, label);
        }
      }
      cur[s] = v;
    }
    __syncthreads();
  }
  for (int64_t k = threadIdx.x; k < (max_t - input_length) * W; k += blockDim.x) la[input_length * W + k] = neg_inf();

  if (threadIdx.x == 0) {
    if (input_length == 0) {
      nll[b] = L == 0 ? T(0) : T(CUDART_INF);
    } else {
      const double* last = la + (input_length - 1) * W;
      const double log_likelihood = L == 0 ? last[0] : ctc_log_add(last[2 * L], last[2 * L - 1]);
      nll[b] = T(-log_likelihood);
    }
  }
}

// dlog_probs, log_probs: (max_t, N, C); dnll, nll: (N); log_alpha: (N, max_t, W) from the
// forward; targets, lengths as for the forward. Workspaces: log_beta (N, 2, W), the two
// beta rows of each sample; links (2, total): links[i] = 1 when target position i is the
// first of its label in its sample, links[total + i] = its label's next position in the
// sample (-1 after the last). Block b computes sample b; rows t >= input length get 0.
template <typename T>
__global__ void __launch_bounds__(kCtcThreads)
    ctc_loss_backward_kernel1(T* dlog_probs, const T* dnll, const T* log_probs, const T* nll,
                              const double* log_alpha, const int64_t* targets, const int64_t* lengths,
                              int64_t* links, int64_t total, double* log_beta, int64_t max_t, int64_t N, int64_t C,
                              int64_t W, int64_t blank, bool zero_infinity) {
  const int64_t b = blockIdx.x;
  const double sample_nll = double(nll[b]);
  const bool skip = zero_infinity && sample_nll == CUDART_INF;
  const int64_t input_length = skip ? 0 : lengths[N + b], L = lengths[2 * N + b];
  const int64_t* labels = targets + lengths[b];
  auto lp = [&](int64_t t, int64_t c) { return double(log_probs[(t * N + b) * C + c]); };

  T* rest = dlog_probs + input_length * N * C;  // rows t >= input_length of every sample
  for (int64_t k = threadIdx.x; k < (max_t - input_length) * C; k += blockDim.x)
    rest[(k / C) * N * C + b * C + k % C] = T(0);
  if (input_length == 0) return;  // the same for every thread of the block

  // Each target position: is it its label's first, and where does the label come next?
  int64_t* first = links + lengths[b];
  int64_t* next = links + total + lengths[b];
  for (int64_t i = threadIdx.x; i < L; i += blockDim.x) {
    bool is_first = true;
    for (int64_t j = 0; j < i && is_first; ++j) is_first = labels[j] != labels[i];
    int64_t after = -1;
    for (int64_t j = i + 1; j < L && after < 0; ++j)
      if (labels[j] == labels[i]) after = j;
    first[i] = is_first ? 1 : 0;
    next[i] = after;
  }  // read only after the first step's barrier

  const double g = double(dnll[b]);
  const double* la = log_alpha + b * max_t * W;
  double* lb = log_beta + b * 2 * W;
  const int64_t t_last = input_length - 1;
  for (int64_t t = t_last; t >= 0; --t) {
    double* cur = lb + (t % 2) * W;  // log beta_t
    const double* after = lb + ((t + 1) % 2) * W;  // log beta_{t+1}
    T* out = dlog_probs + (t * N + b) * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) out[c] = T(ctc_grad(lp(t, c), neg_inf(), sample_nll, g));
    for (int64_t s = threadIdx.x; s <= 2 * L; s += blockDim.x) {
      const int64_t label = ctc_extended_label(labels, s, blank);
      double v;
      if (t == t_last) {  // beta_{T-1}(2L) = y(_), beta_{T-1}(2L-1) = y(l_{L-1})
        v = s >= 2 * L - 1 ? lp(t, label) : neg_inf();
      } else {
        const double b2 = s < 2 * L ? after[s + 1] : neg_inf();
        const double b3 = s < 2 * L - 1 && ctc_extended_label(labels, s + 2, blank) != label ? after[s + 2] : neg_inf();
        v = ctc_log_add3(after[s], b2, b3) + lp(t, label);
      }
      cur[s] = v;
    }
    __syncthreads();

    const double* la_t = la + t * W;
    if (threadIdx.x < 32) {  // the blank: log sum over the even s of alpha_t(s) beta_t(s)
      double acc = neg_inf();
      for (int64_t s = 2 * int64_t(threadIdx.x); s <= 2 * L; s += 64) acc = ctc_log_add(acc, la_t[s] + cur[s]);
#pragma unroll
      for (unsigned delta = 16; delta > 0; delta /= 2) acc = ctc_log_add(acc, __shfl_down_sync(0xffffffffu, acc, delta));
      if (threadIdx.x == 0) out[blank] = T(ctc_grad(lp(t, blank), acc, sample_nll, g));
    }
    for (int64_t i = threadIdx.x; i < L; i += blockDim.x) {
      if (!first[i]) continue;
      double acc = neg_inf();
      for (int64_t j = i; j >= 0; j = next[j]) acc = ctc_log_add(acc, la_t[2 * j + 1] + cur[2 * j + 1]);
      out[labels[i]] = T(ctc_grad(lp(t, labels[i]), acc, sample_nll, g));
    }
  }
}

// Checks that N samples fit the grid (one block each).
void check_batch(int64_t N, const char* op) {
  KILN_CHECK(N <= int64_t(std::numeric_limits<int>::max()), op, ": expected at most ",
             std::numeric_limits<int>::max(), " samples on CUDA (a block each), got ", N);
}

// log_probs: (T, N, C) contiguous; nll: (N); log_alpha: (N, T, W) float64.
void ctc_loss_forward_cuda(const Tensor& nll, const Tensor& log_alpha, const Tensor& log_probs, const Tensor& targets,
                           const IntList& target_offsets, const IntList& input_lengths, const IntList& target_lengths,
                           int64_t blank) {
  const int64_t max_t = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2), W = log_alpha.size(2);
  if (N == 0) return;
  check_batch(N, "ctc_loss");
  KILN_CUDA_CHECK(cudaSetDevice(log_probs.device().index));
  const Tensor lengths = sample_lengths(target_offsets, input_lengths, target_lengths, log_probs.device());
  const cudaStream_t stream = cuda::stream_for(log_probs.device().index);
  dispatch_floating(log_probs.dtype(), "ctc_loss", [&]<typename T>() {
    ctc_loss_forward_kernel1<T><<<unsigned(N), ctc_threads(W), 0, stream>>>(
        nll.data_ptr<T>(), log_alpha.data_ptr<double>(), log_probs.data_ptr<T>(), targets.data_ptr<int64_t>(),
        lengths.data_ptr<int64_t>(), max_t, N, C, W, blank);
  });
  cuda::check_launch("ctc_loss_forward (cuda)");
}

// dlog_probs, log_probs: (T, N, C) contiguous; dnll, nll: (N); log_alpha: (N, T, W).
void ctc_loss_backward_cuda(const Tensor& dlog_probs, const Tensor& dnll, const Tensor& log_probs, const Tensor& nll,
                            const Tensor& log_alpha, const Tensor& targets, const IntList& target_offsets,
                            const IntList& input_lengths, const IntList& target_lengths, int64_t blank,
                            bool zero_infinity) {
  const int64_t max_t = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2), W = log_alpha.size(2);
  if (N == 0) return;
  check_batch(N, "ctc_loss_backward");
  KILN_CUDA_CHECK(cudaSetDevice(log_probs.device().index));
  const Tensor lengths = sample_lengths(target_offsets, input_lengths, target_lengths, log_probs.device());
  const int64_t total = targets.numel();
  const Tensor links = empty({std::max<int64_t>(2 * total, 1)}, options_of(targets));
  const Tensor log_beta = empty({N, 2, W}, options_of(log_alpha));
  const cudaStream_t stream = cuda::stream_for(log_probs.device().index);
  dispatch_floating(log_probs.dtype(), "ctc_loss_backward", [&]<typename T>() {
    ctc_loss_backward_kernel1<T><<<unsigned(N), ctc_threads(std::max(W, C)), 0, stream>>>(
        dlog_probs.data_ptr<T>(), dnll.data_ptr<T>(), log_probs.data_ptr<T>(), nll.data_ptr<T>(),
        log_alpha.data_ptr<double>(), targets.data_ptr<int64_t>(), lengths.data_ptr<int64_t>(),
        links.data_ptr<int64_t>(), total, log_beta.data_ptr<double>(), max_t, N, C, W, blank, zero_infinity);
  });
  cuda::check_launch("ctc_loss_backward (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(ctc_loss_forward_stub, DeviceType::CUDA, ctc_loss_forward_cuda);
KILN_REGISTER_KERNEL(ctc_loss_backward_stub, DeviceType::CUDA, ctc_loss_backward_cuda);

}  // namespace kiln
