// Loss functions, as torch.nn.functional and torch.nn name them: the functional forms
// in nn::functional and a module per loss holding its options (and class weights as
// buffers). Each is composed from kiln ops in nn/loss.cpp, so backward and double
// backward come from the ops' own derivatives. CTC loss is in nn/ctc_loss.h.
#pragma once

#include <string>

#include "nn/module.h"

namespace kiln::nn {

namespace functional {

// Every loss takes reduction "none" (the per-element losses), "mean" or "sum", as
// PyTorch; kl_div also takes "batchmean". Element-wise losses need a target of the
// input's shape and dtype (no silent broadcasting).

// (x - y)^2
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
// |x - y|
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = x - y); beta = 0 is l1_loss.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                      double beta = 1.0);
// input: probabilities in [0, 1]; target: the same shape, in [0, 1]; weight: undefined
// or broadcastable to the input's shape.
// -w (y log x + (1 - y) log(1 - x)), each log clamped at -100 as PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            const std::string& reduction = "mean");
// input: logits. pos_weight (broadcast over the last dim, e.g. (C) for (N, C)) weights
// the positive term: -w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), computed as
// (1 - y) x + (1 + (p - 1) y) log(1 + exp(-x)) in the stable log-sum-exp form.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                        const std::string& reduction = "mean", const Tensor& pos_weight = {});
// input: log-probabilities (C), (N, C) or (N, C, d1, ...); target: int64 class indices
// of shape (), (N) or (N, d1, ...), each in [0, C) or equal to ignore_index; weight:
// undefined or (C). loss = -weight[t] input[t] (0 where ignored); "mean" divides the sum
// by the total weight of the targets not ignored.
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = {}, int64_t ignore_index = -100,
                const std::string& reduction = "mean");
// input: logits, shaped as for nll_loss. Two kinds of target:
//  - int64 class indices (as nll_loss): (1 - eps) nll_loss(log_softmax(input, 1)) +
//    eps / C * (-sum_c weight[c] log_softmax(input)_c), ignored targets contributing 0
//    and "mean" dividing both terms by the total weight of the targets not ignored;
//  - class probabilities (a floating target of the input's shape):
//    -sum_c weight[c] q_c log_softmax(input)_c with q = (1 - eps) target + eps / C;
//    "mean" divides by the number of samples (N d1 ...), not by weights, as PyTorch.
// label_smoothing eps in [0, 1].
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                     int64_t ignore_index = -100, const std::string& reduction = "mean",
                     double label_smoothing = 0.0);
// input: log-probabilities; target: probabilities (log-probabilities if log_target),
// the input's shape. loss = target (log target - input), 0 where target = 0.
// reduction "batchmean" divides the sum by the batch size input.size(0); "mean" by the
// number of elements (which is not the KL divergence; PyTorch keeps it for compatibility).
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
              bool log_target = false);

}  // namespace functional

// ---- modules: the options of each loss, checked once at construction ----

// Base of the losses below: two tensors in, the loss out.
class Loss : public Module {
 public:
  Loss(std::string type_name, std::string reduction);
  virtual Tensor forward(const Tensor& input, const Tensor& target) const = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) const { return forward(input, target); }
  std::string extra_repr() const override;
  std::string reduction;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(std::string reduction = "mean");
  Tensor forward(const Tensor& input, const Tensor& target) const override;
};

class L1Loss : public Loss {
 public:
  explicit L1Loss(std::string reduction = "mean");
  Tensor forward(const Tensor& input, const Tensor& target) const override;
};

class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(std::string reduction = "mean", double beta = 1.0);
  Tensor forward(const Tensor& input, const Tensor& target) const override;
  std::string extra_repr() const override;
  double beta;
};

// weight: a buffer (moves with to()), undefined for none.
class BCELoss : public Loss {
 public:
  explicit BCELoss(Tensor weight = {}, std::string reduction = "mean");
  Tensor forward(const Tensor& input, const Tensor& target) const override;
  Tensor weight;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = {}, std::string reduction = "mean", Tensor pos_weight = {});
  Tensor forward(const Tensor& input, const Tensor& target) const override;
  Tensor weight, pos_weight;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(Tensor weight = {}, int64_t ignore_index = -100, std::string reduction = "mean");
  Tensor forward(const Tensor& input, const Tensor& target) const override;
  std::string extra_repr() const override;
  Tensor weight;
  int64_t ignore_index;
};

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(Tensor weight = {}, int64_t ignore_index = -100, std::string reduction = "mean",
                            double label_smoothing = 0.0);
  Tensor forward(const Tensor& input, const Tensor& target) const override;
  std::string extra_repr() const override;
  Tensor weight;
  int64_t ignore_index;
  double label_smoothing;
};

class KLDivLoss : public Loss {
 public:
  explicit KLDivLoss(std::string reduction = "mean", bool log_target = false);
  Tensor forward(const Tensor& input, const Tensor& target) const override;
  std::string extra_repr() const override;
  bool log_target;
};

}  // namespace kiln::nn
