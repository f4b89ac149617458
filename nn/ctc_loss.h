// nn::CTCLoss: the module form of ctc_loss (ops/ctc.h), with PyTorch's defaults, and
// nn::functional::ctc_loss. The op, its checks and its backward live in ops/ctc.cpp.
#pragma once

#include <string>

#include "nn/module.h"
#include "ops/ctc.h"

namespace kiln::nn {

namespace functional {
using kiln::ctc_loss;
}  // namespace functional

// log_probs: (T, N, C) log_softmax outputs; targets padded (N, S) or concatenated,
// int64; see ops/ctc.h for the shapes, reductions and zero_infinity.
class CTCLoss : public Module {
 public:
  explicit CTCLoss(int64_t blank = 0, std::string reduction = "mean", bool zero_infinity = false);
  Tensor forward(const Tensor& log_probs, const Tensor& targets, const IntList& input_lengths,
                 const IntList& target_lengths) const;
  Tensor operator()(const Tensor& log_probs, const Tensor& targets, const IntList& input_lengths,
                    const IntList& target_lengths) const {
    return forward(log_probs, targets, input_lengths, target_lengths);
  }
  std::string extra_repr() const override;
  int64_t blank;
  std::string reduction;
  bool zero_infinity;
};

}  // namespace kiln::nn
