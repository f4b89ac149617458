// Connectionist temporal classification loss (Graves et al. 2006), as
// torch.nn.functional.ctc_loss. Forward and backward in ops/ctc.cpp, the alpha/beta
// recursions in ops/cpu/ctc.cpp; the module form is nn::CTCLoss (nn/ctc_loss.h).
#pragma once

#include <string>

#include "core/tensor.h"

namespace kiln {

// log_probs: (T, N, C) float32/float64 log-probabilities (log_softmax over C).
// targets: int64, either padded (N, S) with sample b's labels in targets[b, :target_lengths[b]],
// or 1-D with every sample's labels concatenated (length sum(target_lengths)).
// input_lengths, target_lengths: N values each, input_lengths[b] <= T.
// Labels lie in [0, C) and are never `blank`. reduction: "none" -> (N) per-sample
// -log p(target | input); "sum" -> their sum; "mean" -> each divided by its target
// length (clamped to >= 1), then averaged over the batch. zero_infinity: an infinite
// loss (no alignment fits the input length) and its gradient become zero.
// As in PyTorch, the gradient w.r.t. log_probs is exp(log_probs) - posterior, which is
// the true gradient once it flows through log_softmax; the backward is not itself
// differentiable (double backward throws).
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const IntList& input_lengths,
                const IntList& target_lengths, int64_t blank = 0, const std::string& reduction = "mean",
                bool zero_infinity = false);

}  // namespace kiln
