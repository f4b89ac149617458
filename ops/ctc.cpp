// ctc_loss: argument checks, the CtcLoss Function (per-sample negative log-likelihoods;
// its backward runs the beta recursion in CtcLossBackward) and the reductions, composed
// of kiln ops as PyTorch does. Kernels: ops/cpu/ctc.cpp, see Note [CTC in log space].

#include "ops/ctc.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "autograd/function.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/ctc.h"
#include "ops/reduce.h"

namespace kiln {

KILN_DEFINE_STUB(ctc_loss_forward_stub, "ctc_loss", CtcForwardKernel);
KILN_DEFINE_STUB(ctc_loss_backward_stub, "ctc_loss", CtcBackwardKernel);  // one op, two stubs

namespace {

constexpr const char* kOp = "ctc_loss";

// The checked targets and lengths, in the form the kernels read.
struct CtcLayout {
  Tensor targets;          // int64, the used labels of every sample, concatenated
  IntList target_offsets;  // where sample b's labels start in `targets`
  IntList input_lengths, target_lengths;
  int64_t blank = 0;
};

// Checks every argument (see ops/ctc.h for the contract) and gathers the labels each
// sample uses into one concatenated list, whatever the targets' layout.
CtcLayout check_and_flatten(const Tensor& log_probs, const Tensor& targets, const IntList& input_lengths,
                            const IntList& target_lengths, int64_t blank) {
  KILN_CHECK(log_probs.defined() && targets.defined(), kOp, ": log_probs and targets must be defined tensors");
  KILN_CHECK(log_probs.dim() == 3, kOp, ": expected log_probs of shape (T, N, C), got ", log_probs.meta_str());
  KILN_CHECK(log_probs.is_floating_point(), kOp, ": expected log_probs of dtype float32 or float64, got ",
             log_probs.meta_str());
  KILN_CHECK(targets.dtype() == DType::Int64, kOp, ": expected targets of dtype int64, got ", targets.meta_str());
  KILN_CHECK(targets.dim() == 1 || targets.dim() == 2, kOp,
             ": expected targets padded as (N, S) or concatenated as (sum(target_lengths)), got ",
             targets.meta_str());
  const int64_t T = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2);
  KILN_CHECK(int64_t(input_lengths.size()) == N, kOp, ": expected ", N,
             " input_lengths (one per sample of log_probs ", log_probs.meta_str(), "), got ", input_lengths.size());
  KILN_CHECK(int64_t(target_lengths.size()) == N, kOp, ": expected ", N,
             " target_lengths (one per sample of log_probs ", log_probs.meta_str(), "), got ",
             target_lengths.size());
  KILN_CHECK(blank >= 0 && blank < C, kOp, ": expected blank in [0, C) = [0, ", C, ") for log_probs ",
             log_probs.meta_str(), ", got ", blank);
  const bool padded = targets.dim() == 2;
  int64_t total = 0;
  for (int64_t b = 0; b < N; ++b) {
    KILN_CHECK(input_lengths[b] >= 0 && input_lengths[b] <= T, kOp, ": expected input_lengths[", b,
               "] in [0, T] = [0, ", T, "], got ", input_lengths[b]);
    KILN_CHECK(target_lengths[b] >= 0, kOp, ": expected target_lengths[", b, "] >= 0, got ", target_lengths[b]);
    KILN_CHECK(!padded || target_lengths[b] <= targets.size(1), kOp, ": expected target_lengths[", b,
               "] in [0, S] = [0, ", targets.size(1), "] for padded targets ", targets.meta_str(), ", got ",
               target_lengths[b]);
    total += target_lengths[b];
  }
  if (padded) {
    KILN_CHECK(targets.size(0) == N, kOp, ": expected padded targets of shape (N, S) with N = ", N,
               " (the batch of log_probs ", log_probs.meta_str(), "), got ", targets.meta_str());
  } else {
    KILN_CHECK(targets.size(0) == total, kOp,
               ": expected concatenated targets of length sum(target_lengths) = ", total, ", got ",
               targets.meta_str());
  }

  CtcLayout layout;
  layout.input_lengths = input_lengths;
  layout.target_lengths = target_lengths;
  layout.blank = blank;
  const std::vector<int64_t> values = targets.to_vector<int64_t>();
  std::vector<int64_t> flat;
  flat.reserve(size_t(total));
  int64_t source = 0;  // where sample b's labels start in `values`
  for (int64_t b = 0; b < N; ++b) {
    if (padded) source = b * targets.size(1);
    layout.target_offsets.push_back(int64_t(flat.size()));
    for (int64_t i = 0; i < target_lengths[b]; ++i) {
      const int64_t label = values[size_t(source + i)];
      KILN_CHECK(label >= 0 && label < C, kOp, ": expected target labels in [0, C) = [0, ", C, "), got ", label,
                 " at position ", i, " of sample ", b);
      KILN_CHECK(label != blank, kOp, ": target label ", label, " at position ", i, " of sample ", b,
                 " is the blank (blank = ", blank, "); targets must not contain the blank");
      flat.push_back(label);
    }
    if (!padded) source += target_lengths[b];
  }
  layout.targets = tensor(flat, Shape{total}).to(log_probs.device());
  return layout;
}

// The gradient of the per-sample losses w.r.t. log_probs, computed by the backward
// kernel. It is a Function so that differentiating it again (create_graph, then a
// second backward) fails loudly instead of silently giving zero.
struct CtcLossBackward : Function<CtcLossBackward> {
  static constexpr const char* kName = "ctc_loss_backward";
  Tensor forward(const Tensor& dnll, const Tensor& log_probs, const Tensor& nll, const Tensor& log_alpha,
                 const CtcLayout& layout, bool zero_infinity) {
    Tensor dlog_probs = empty(log_probs.shape(), options_of(log_probs));
    ctc_loss_backward_stub(log_probs.device(), dlog_probs, dnll.contiguous(), log_probs, nll, log_alpha,
                           layout.targets, layout.target_offsets, layout.input_lengths, layout.target_lengths,
                           layout.blank, zero_infinity);
    return dlog_probs;
  }
  TensorList backward(const Tensor&) {
    KILN_FAIL("ctc_loss: the backward of ctc_loss is not differentiable (double backward of ctc_loss is not "
              "supported)");
  }
};

// nll[b] = -log p(l_b | x_b): the alpha recursion over the extended labels (forward),
// and, from the beta recursion, dnll[b]/dlog_probs[t, b, c] =
//   exp(log_probs[t, b, c]) - sum_{s : l'_s = c} alpha_t(s) beta_t(s) / (p(l_b | x_b) y_t(c))
// (Graves et al. eq. 16, PyTorch's convention: the exp term makes it the gradient of
// the logits once it flows through log_softmax, whose backward removes it again).
struct CtcLoss : Function<CtcLoss> {
  static constexpr const char* kName = "ctc_loss";
  CtcLayout layout;
  bool zero_infinity = false;
  Tensor log_alpha;  // (N, T, 2 * max(target_lengths) + 1), float64, for the backward

  Tensor forward(const Tensor& log_probs_, const CtcLayout& layout_, bool zero_infinity_) {
    layout = layout_;
    zero_infinity = zero_infinity_;
    Tensor log_probs = log_probs_.contiguous();
    const int64_t T = log_probs.size(0), N = log_probs.size(1);
    int64_t max_target = 0;
    for (int64_t length : layout.target_lengths) max_target = std::max(max_target, length);
    Tensor nll = empty({N}, options_of(log_probs));
    log_alpha = empty({N, T, 2 * max_target + 1}, options_of(log_probs).with_dtype(DType::Float64));
    ctc_loss_forward_stub(log_probs.device(), nll, log_alpha, log_probs, layout.targets, layout.target_offsets,
                          layout.input_lengths, layout.target_lengths, layout.blank);
    save(log_probs_);
    save_output(nll);
    return nll;
  }
  TensorList backward(const Tensor& g) {
    auto [log_probs, nll] = saved<2>();
    return {apply<CtcLossBackward>(g, log_probs.contiguous(), nll, log_alpha, layout, zero_infinity)};
  }
  void release_saved() override {
    Function<CtcLoss>::release_saved();
    log_alpha = Tensor();
  }
};

}  // namespace

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const IntList& input_lengths,
                const IntList& target_lengths, int64_t blank, const std::string& reduction, bool zero_infinity) {
  KILN_CHECK(reduction == "none" || reduction == "mean" || reduction == "sum", kOp,
             ": expected reduction \"none\", \"mean\" or \"sum\", got \"", reduction, "\"");
  CtcLayout layout = check_and_flatten(log_probs, targets, input_lengths, target_lengths, blank);
  Tensor nll = apply<CtcLoss>(log_probs, layout, zero_infinity);
  // Only +inf is replaced (a NaN stays NaN), as in PyTorch; CtcLossBackward zeroes the
  // gradient of those samples too.
  if (zero_infinity) nll = where(ne(nll, std::numeric_limits<double>::infinity()), nll, 0.0);
  if (reduction == "none") return nll;
  if (reduction == "sum") return sum(nll);
  std::vector<double> divisors;
  for (int64_t length : target_lengths) divisors.push_back(double(std::max<int64_t>(length, 1)));
  return mean(nll / tensor(divisors, Shape{int64_t(divisors.size())}, options_of(nll)));
}

}  // namespace kiln
