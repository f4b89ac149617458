// The kernel contract of the CTC loss (forward alpha and backward beta recursions): each
// kernel's signature, the shapes and layouts it receives, and its DispatchStub.
// ops/ctc.cpp defines the stubs and calls them; every device's kernels (ops/cpu/ctc.cpp,
// cuda/) register against them.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/dispatch.h"
#include "core/host_device.h"
#include "core/tensor.h"

namespace kiln {

// The log-space sums of the recursions, shared by the CPU and CUDA kernels (see
// ops/cpu/ctc.cpp for the method). log(e^a + e^b) with the larger term factored out;
// -inf when both are -inf (never the NaN of -inf - -inf). m and lo are std::max and
// std::min's picks, NaN behaviour included.
KILN_HOST_DEVICE inline double ctc_log_add(double a, double b) {
  const double m = a < b ? b : a, lo = b < a ? b : a;
  if (std::isinf(m) && m < 0) return m;
  return m + std::log1p(std::exp(lo - m));
}
// log(e^a + e^b + e^c), likewise; m is std::max({a, b, c})'s pick (the first largest).
KILN_HOST_DEVICE inline double ctc_log_add3(double a, double b, double c) {
  double m = a;
  if (m < b) m = b;
  if (m < c) m = c;
  if (std::isinf(m) && m < 0) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m));
}
// Label s of the extended sequence l' = (blank, l_0, blank, l_1, ..., blank).
KILN_HOST_DEVICE inline int64_t ctc_extended_label(const int64_t* labels, int64_t s, int64_t blank) {
  return s % 2 == 0 ? blank : labels[s / 2];
}

// log_probs: (T, N, C) contiguous; targets: int64 (sum(target_lengths)), every sample's
// labels concatenated, sample b's starting at target_offsets[b].
// nll: (N) of log_probs' dtype; log_alpha: (N, T, 2 * max(target_lengths) + 1) float64.
using CtcForwardKernel = void(const Tensor& nll, const Tensor& log_alpha, const Tensor& log_probs,
                              const Tensor& targets, const IntList& target_offsets, const IntList& input_lengths,
                              const IntList& target_lengths, int64_t blank);
// dlog_probs: (T, N, C) contiguous, written entirely; dnll, nll: (N); the rest as above.
using CtcBackwardKernel = void(const Tensor& dlog_probs, const Tensor& dnll, const Tensor& log_probs,
                               const Tensor& nll, const Tensor& log_alpha, const Tensor& targets,
                               const IntList& target_offsets, const IntList& input_lengths,
                               const IntList& target_lengths, int64_t blank, bool zero_infinity);
KILN_DECLARE_STUB(ctc_loss_forward_stub, CtcForwardKernel);
KILN_DECLARE_STUB(ctc_loss_backward_stub, CtcBackwardKernel);  // one op, two stubs

}  // namespace kiln
