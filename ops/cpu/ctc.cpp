// CPU kernels of ctc_loss (ops/ctc.cpp): the alpha recursion (forward) and the beta
// recursion with the per-class posteriors (backward), one sample per task, in log space
// and float64 whatever the input dtype. See Note [CTC in log space].
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/ctc.h"

namespace kiln {

namespace {

constexpr int64_t kCtcGrain = 16384;  // recursion steps (t, s) per thread, at least
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Note [CTC in log space]
// A sample's labels l (length L) are extended with blanks, l' = (_, l_0, _, l_1, ..., _),
// length 2L + 1. With y_t(c) = exp(log_probs[t, c]) and T the sample's input length:
//   alpha_0(0) = y_0(_),  alpha_0(1) = y_0(l_0)
//   alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) + [l'_s != l'_{s-2}] alpha_{t-1}(s-2)) y_t(l'_s)
//   p(l | x)   = alpha_{T-1}(2L) + alpha_{T-1}(2L-1)
//   beta_{T-1}(2L) = y_{T-1}(_),  beta_{T-1}(2L-1) = y_{T-1}(l_{L-1})
//   beta_t(s)  = (beta_{t+1}(s) + beta_{t+1}(s+1) + [l'_s != l'_{s+2}] beta_{t+1}(s+2)) y_t(l'_s)
// The skip term is left out for blanks and for repeated labels ("aa" needs a blank
// between the two a's). Products of T probabilities underflow in a few hundred steps, so
// everything is kept as logarithms and sums become log-sum-exp with the largest term
// factored out: log(e^a + e^b + e^c) = m + log(e^(a-m) + e^(b-m) + e^(c-m)), m = max.
// Every exponent is then <= 0 and the largest term is exactly 1; when all terms are
// -inf (state unreachable), the result is -inf, never NaN. The recursions run in double.
// Since alpha_t(s) beta_t(s) counts y_t(l'_s) twice, the posterior of class c at t is
//   sum_{s : l'_s = c} alpha_t(s) beta_t(s) / (p(l | x) y_t(c)),
// and the gradient PyTorch returns is exp(log_probs) minus that posterior (see
// ops/ctc.cpp). An input length of 0 gives p = 1 for an empty target and 0 otherwise.

// Rough cost of one sample, for the grain size.
int64_t samples_per_task(int64_t T, int64_t width) {
  return std::max<int64_t>(1, kCtcGrain / std::max<int64_t>(1, T * width));
}

// log_probs: (T, N, C) contiguous; targets: (sum(target_lengths)) int64 at target_offsets;
// nll: (N); log_alpha: (N, T, W) float64 with W = 2 * max(target_lengths) + 1.
void ctc_loss_forward_cpu(const Tensor& nll, const Tensor& log_alpha, const Tensor& log_probs, const Tensor& targets,
                          const IntList& target_offsets, const IntList& input_lengths, const IntList& target_lengths,
                          int64_t blank) {
  dispatch_floating(log_probs.dtype(), "ctc_loss", [&]<typename T>() {
    const int64_t max_t = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2);
    const int64_t W = log_alpha.size(2);
    const T* lp_data = log_probs.data_ptr<T>();
    const int64_t* label_data = targets.data_ptr<int64_t>();
    T* nll_data = nll.data_ptr<T>();
    double* alpha_data = log_alpha.data_ptr<double>();
    cpu::parallel_for(0, N, samples_per_task(max_t, W), [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t input_length = input_lengths[size_t(b)], L = target_lengths[size_t(b)];
        const int64_t* labels = label_data + target_offsets[size_t(b)];
        double* la = alpha_data + b * max_t * W;  // la[t * W + s] = log alpha_t(s)
        std::fill(la, la + max_t * W, kNegInf);
        if (input_length == 0) {
          nll_data[b] = L == 0 ? T(0) : std::numeric_limits<T>::infinity();
          continue;
        }
        auto lp = [&](int64_t t, int64_t c) { return double(lp_data[(t * N + b) * C + c]); };
        la[0] = lp(0, blank);
        if (L > 0) la[1] = lp(0, labels[0]);
        for (int64_t t = 1; t < input_length; ++t) {
          const double* prev = la + (t - 1) * W;
          double* cur = la + t * W;
          for (int64_t s = 0; s <= 2 * L; ++s) {
            const int64_t label = ctc_extended_label(labels, s, blank);
            double a2 = s > 0 ? prev[s - 1] : kNegInf;
            double a3 = s > 1 && ctc_extended_label(labels, s - 2, blank) != label ? prev[s - 2] : kNegInf;
            cur[s] = ctc_log_add3(prev[s], a2, a3) + lp(t, label);
          }
        }
        const double* last = la + (input_length - 1) * W;
        double log_likelihood = L == 0 ? last[0] : ctc_log_add(last[2 * L], last[2 * L - 1]);
        nll_data[b] = T(-log_likelihood);
      }
    });
  });
}

// dlog_probs, log_probs: (T, N, C) contiguous; dnll, nll: (N); log_alpha: (N, T, W) float64
// from the forward; targets as for the forward. Rows t >= input_lengths[b] get zero.
void ctc_loss_backward_cpu(const Tensor& dlog_probs, const Tensor& dnll, const Tensor& log_probs, const Tensor& nll,
                           const Tensor& log_alpha, const Tensor& targets, const IntList& target_offsets,
                           const IntList& input_lengths, const IntList& target_lengths, int64_t blank,
                           bool zero_infinity) {
  dispatch_floating(log_probs.dtype(), "ctc_loss_backward", [&]<typename T>() {
    const int64_t max_t = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2);
    const int64_t W = log_alpha.size(2);
    const T* lp_data = log_probs.data_ptr<T>();
    const T* dnll_data = dnll.data_ptr<T>();
    const T* nll_data = nll.data_ptr<T>();
    const int64_t* label_data = targets.data_ptr<int64_t>();
    const double* alpha_data = log_alpha.data_ptr<double>();
    T* dlp_data = dlog_probs.data_ptr<T>();
    cpu::parallel_for(0, N, samples_per_task(max_t, W), [&](int64_t begin, int64_t end) {
      std::vector<double> log_beta, log_post;
      for (int64_t b = begin; b < end; ++b) {
        const double sample_nll = double(nll_data[b]);
        const bool skip = zero_infinity && sample_nll == std::numeric_limits<double>::infinity();
        const int64_t input_length = skip ? 0 : input_lengths[size_t(b)];
        const int64_t L = target_lengths[size_t(b)], S = 2 * L + 1;
        const int64_t* labels = label_data + target_offsets[size_t(b)];
        const double* la = alpha_data + b * max_t * W;
        auto lp = [&](int64_t t, int64_t c) { return double(lp_data[(t * N + b) * C + c]); };
        for (int64_t t = input_length; t < max_t; ++t) std::fill_n(dlp_data + (t * N + b) * C, C, T(0));
        if (input_length == 0) continue;

        // lb[t * S + s] = log beta_t(s)
        log_beta.assign(size_t(input_length * S), kNegInf);
        double* lb = log_beta.data();
        const int64_t t_last = input_length - 1;
        lb[t_last * S + 2 * L] = lp(t_last, blank);
        if (L > 0) lb[t_last * S + 2 * L - 1] = lp(t_last, labels[L - 1]);
        for (int64_t t = t_last - 1; t >= 0; --t) {
          const double* next = lb + (t + 1) * S;
          double* cur = lb + t * S;
          for (int64_t s = 2 * L; s >= 0; --s) {
            const int64_t label = ctc_extended_label(labels, s, blank);
            double b2 = s < 2 * L ? next[s + 1] : kNegInf;
            double b3 = s < 2 * L - 1 && ctc_extended_label(labels, s + 2, blank) != label ? next[s + 2] : kNegInf;
            cur[s] = ctc_log_add3(next[s], b2, b3) + lp(t, label);
          }
        }

        // post[t * C + c] = log sum_{s : l'_s = c} alpha_t(s) beta_t(s)
        log_post.assign(size_t(input_length * C), kNegInf);
        double* post = log_post.data();
        for (int64_t t = 0; t < input_length; ++t)
          for (int64_t s = 0; s <= 2 * L; ++s) {
            double& acc = post[t * C + ctc_extended_label(labels, s, blank)];
            acc = ctc_log_add(acc, la[t * W + s] + lb[t * S + s]);
          }

        const double g = double(dnll_data[b]);
        for (int64_t t = 0; t < input_length; ++t) {
          T* out = dlp_data + (t * N + b) * C;
          for (int64_t c = 0; c < C; ++c) {
            const double y = lp(t, c);
            out[c] = T((std::exp(y) - std::exp(post[t * C + c] + sample_nll - y)) * g);
          }
        }
      }
    });
  });
}

}  // namespace

KILN_REGISTER_KERNEL(ctc_loss_forward_stub, DeviceType::CPU, ctc_loss_forward_cpu);
KILN_REGISTER_KERNEL(ctc_loss_backward_stub, DeviceType::CPU, ctc_loss_backward_cpu);

}  // namespace kiln
