// The losses of nn/loss.h, composed from kiln ops (log_softmax, gather, where, clamp,
// sum, ...): their gradients, and the gradients of those, are the ops' own. The
// formulas follow PyTorch's aten/src/ATen/native/Loss.cpp and LossNLL.cpp. Inside an
// autocast scope every loss computes in float32 (See Note [Autocast]).
#include "nn/loss.h"

#include <utility>

#include "core/autocast.h"
#include "ops/binary.h"
#include "ops/index.h"
#include "ops/nll.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace kiln::nn {

namespace {

void check_reduction(const char* op, const std::string& reduction, bool allow_batchmean = false) {
  bool ok = reduction == "none" || reduction == "mean" || reduction == "sum" ||
            (allow_batchmean && reduction == "batchmean");
  KILN_CHECK(ok, op, ": expected reduction \"none\", \"mean\"",
             allow_batchmean ? ", \"sum\" or \"batchmean\"" : " or \"sum\"", ", got \"", reduction, "\"");
}

Tensor reduce(const Tensor& loss, const std::string& reduction) {
  if (reduction == "none") return loss;
  if (reduction == "sum") return sum(loss);
  return mean(loss);
}

void check_input(const char* op, const Tensor& input) {
  KILN_CHECK(input.defined(), op, ": the input is undefined");
  KILN_CHECK(input.is_floating_point(), op, ": expected a floating input (float32 or float64), got ",
             input.meta_str());
}

// A floating target of the input's shape, dtype and device (the element-wise losses).
void check_elementwise(const char* op, const Tensor& input, const Tensor& target) {
  check_input(op, input);
  KILN_CHECK(target.defined(), op, ": the target is undefined");
  KILN_CHECK(target.shape() == input.shape(), op, ": expected a target of the input's shape ", input.shape(),
             ", got target ", target.meta_str(), " for input ", input.meta_str());
  KILN_CHECK(target.dtype() == input.dtype(), op, ": expected a target of the input's dtype ",
             dtype_name(input.dtype()), ", got target ", target.meta_str());
  KILN_CHECK(target.device() == input.device(), op, ": expected the target on the input's device, got target ",
             target.meta_str(), " for input ", input.meta_str());
}

// Whether `from` broadcasts to `to` without growing it.
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  size_t lead = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[lead + i]) return false;
  return true;
}

// An optional weight (weight, pos_weight) that broadcasts to the input's shape.
void check_broadcast_weight(const char* op, const char* name, const Tensor& weight, const Tensor& input) {
  if (!weight.defined()) return;
  KILN_CHECK(weight.dtype() == input.dtype() && weight.device() == input.device(), op, ": expected ", name,
             " of the input's dtype and device, got ", name, " ", weight.meta_str(), " for input ",
             input.meta_str());
  KILN_CHECK(broadcasts_to(weight.shape(), input.shape()), op, ": ", name, " ", weight.meta_str(), " does not broadcast to the input's shape ", input.shape());
}

// The class dim: 0 for an unbatched input (C), else 1 ((N, C, d1, ...)).
int64_t class_dim(const Tensor& input) { return input.dim() == 1 ? 0 : 1; }

// Checks for class-index targets (nll_loss, cross_entropy): input (C) with target (),
// or input (N, C, d1, ...) with target (N, d1, ...), int64, each in [0, C) or
// ignore_index; weight undefined or (C).
void check_class_target(const char* op, const Tensor& input, const Tensor& target, const Tensor& weight,
                        int64_t ignore_index) {
  check_input(op, input);
  KILN_CHECK(input.dim() >= 1, op, ": expected an input of shape (C), (N, C) or (N, C, d1, ...), got ",
             input.meta_str());
  KILN_CHECK(target.defined(), op, ": the target is undefined");
  KILN_CHECK(target.dtype() == kInt64, op, ": expected int64 class indices as the target, got ", target.meta_str());
  KILN_CHECK(target.device() == input.device(), op, ": expected the target on the input's device, got target ",
             target.meta_str(), " for input ", input.meta_str());
  Shape expected = input.shape();
  expected.erase(expected.begin() + class_dim(input));
  KILN_CHECK(target.shape() == expected, op, ": expected a target of shape ", expected, " for input ",
             input.meta_str(), input.dim() == 1 ? " (C)" : " (N, C, d1, ...)", ", got target ", target.meta_str());
  int64_t classes = input.size(class_dim(input));
  if (weight.defined()) {
    KILN_CHECK(weight.dim() == 1 && weight.numel() == classes, op, ": expected a class weight of shape [",
               classes, "] (one per class), got ", weight.meta_str());
    KILN_CHECK(weight.dtype() == input.dtype() && weight.device() == input.device(), op,
               ": expected the class weight in the input's dtype and device, got weight ", weight.meta_str(),
               " for input ", input.meta_str());
  }
  for (int64_t t : target.to_vector<int64_t>())
    KILN_CHECK(t == ignore_index || (t >= 0 && t < classes), op, ": target class index ", t,
               " is out of range for ", classes, " classes (expected 0 <= index < ", classes,
               ", or ignore_index ", ignore_index, ")");
}

// nll_loss on log-probabilities, with cross_entropy's label smoothing (eps = 0: plain
// nll_loss). Per target i with class t_i (and w = weight, 1 without one):
//   loss_i = (1 - eps) (-w[t_i] logp_i[t_i]) + eps / C (-sum_c w[c] logp_i[c]),
// 0 where t_i == ignore_index; "mean" divides the sum by sum_i w[t_i] over the targets
// not ignored (both terms: PyTorch normalises the smoothing term by the same total).
Tensor class_target_loss(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                         const std::string& reduction, double smoothing) {
  // The plain loss is one op with its own kernels (ops/nll.h); smoothing, a class
  // weight that wants a gradient, or a device without the kernels take the ops below.
  if (smoothing == 0 && !(weight.defined() && weight.requires_grad()) && class_nll_loss_available(logp.device())) {
    const NllReduction r = reduction == "none"  ? NllReduction::None
                           : reduction == "sum" ? NllReduction::Sum
                                                : NllReduction::Mean;
    return class_nll_loss(logp, target, weight, ignore_index, r);
  }
  int64_t cdim = class_dim(logp);
  int64_t classes = logp.size(cdim);
  Tensor kept = ne(target, double(ignore_index));
  Tensor safe = where(kept, target, 0.0);  // ignored targets read class 0, then are masked out
  Tensor picked = gather(logp, cdim, safe.unsqueeze(cdim)).squeeze(cdim);
  Tensor mask = kept.to(logp.dtype());
  Tensor w = weight.defined() ? index_select(weight, 0, safe.flatten()).reshape(target.shape()) * mask : mask;
  Tensor loss = where(kept, neg(picked) * w, 0.0);
  if (smoothing > 0) {
    Tensor weighted = logp;
    if (weight.defined()) {
      Shape per_class(size_t(logp.dim()), 1);
      per_class[size_t(cdim)] = classes;
      weighted = logp * weight.view(per_class);
    }
    Tensor smooth = where(kept, neg(sum(weighted, {cdim})), 0.0);
    loss = loss * (1.0 - smoothing) + smooth * (smoothing / double(classes));
  }
  if (reduction == "none") return loss;
  if (reduction == "sum") return sum(loss);
  return sum(loss) / sum(w);
}

// max(log x, -100), PyTorch's clamp in binary_cross_entropy, with a finite gradient at
// x = 0: the log reads where(x > 0, x, 1), so backward never divides by zero.
Tensor clamped_log(const Tensor& x) {
  Tensor positive = gt(x, 0.0);
  return where(positive, clamp_min(log(where(positive, x, 1.0)), -100.0), -100.0);
}

// max(log(1 - x), -100), likewise at x = 1.
Tensor clamped_log1m(const Tensor& x) {
  Tensor below_one = lt(x, 1.0);
  return where(below_one, clamp_min(log1p(neg(where(below_one, x, 0.0))), -100.0), -100.0);
}

}  // namespace

namespace functional {

Tensor mse_loss(const Tensor& input_in, const Tensor& target_in, const std::string& reduction) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in);
  check_reduction("mse_loss", reduction);
  check_elementwise("mse_loss", input, target);
  return reduce(square(input - target), reduction);
}

Tensor l1_loss(const Tensor& input_in, const Tensor& target_in, const std::string& reduction) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in);
  check_reduction("l1_loss", reduction);
  check_elementwise("l1_loss", input, target);
  return reduce(abs(input - target), reduction);
}

Tensor smooth_l1_loss(const Tensor& input_in, const Tensor& target_in, const std::string& reduction, double beta) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in);
  check_reduction("smooth_l1_loss", reduction);
  check_elementwise("smooth_l1_loss", input, target);
  KILN_CHECK(beta >= 0, "smooth_l1_loss: expected beta >= 0, got ", beta);
  if (beta == 0) return reduce(abs(input - target), reduction);  // the quadratic part vanishes
  // Huber's loss divided by beta: quadratic near 0, linear (slope 1) beyond |d| = beta.
  Tensor d = input - target;
  Tensor z = abs(d);
  return reduce(where(lt(z, beta), square(d) * (0.5 / beta), z - 0.5 * beta), reduction);
}

Tensor binary_cross_entropy(const Tensor& input_in, const Tensor& target_in, const Tensor& weight_in,
                            const std::string& reduction) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in),
               weight = autocast_to_float(weight_in);
  check_reduction("binary_cross_entropy", reduction);
  check_elementwise("binary_cross_entropy", input, target);
  check_broadcast_weight("binary_cross_entropy", "weight", weight, input);
  KILN_CHECK(all(logical_and(ge(input, 0.0), le(input, 1.0))).item<bool>(),
             "binary_cross_entropy: expected every element of the input in [0, 1] (probabilities; for logits "
             "use binary_cross_entropy_with_logits), got values from ",
             min(input).item(), " to ", max(input).item(), " in ", input.meta_str());
  // -(y log x + (1 - y) log(1 - x)), in PyTorch's order of operations.
  Tensor loss = (target - 1.0) * clamped_log1m(input) - target * clamped_log(input);
  if (weight.defined()) loss = loss * weight;
  return reduce(loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input_in, const Tensor& target_in, const Tensor& weight_in,
                                        const std::string& reduction, const Tensor& pos_weight_in) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in),
               weight = autocast_to_float(weight_in), pos_weight = autocast_to_float(pos_weight_in);
  check_reduction("binary_cross_entropy_with_logits", reduction);
  check_elementwise("binary_cross_entropy_with_logits", input, target);
  check_broadcast_weight("binary_cross_entropy_with_logits", "weight", weight, input);
  check_broadcast_weight("binary_cross_entropy_with_logits", "pos_weight", pos_weight, input);
  // -log sigmoid(x) = log(1 + exp(-x)) = m + log(exp(-m) + exp(-x - m)) with
  // m = max(-x, 0): both exponents are <= 0, so nothing overflows for large |x|.
  Tensor m = clamp_min(neg(input), 0.0);
  Tensor log1p_exp_neg = log(exp(neg(m)) + exp(neg(input) - m)) + m;
  // -log(1 - sigmoid(x)) = x - log sigmoid(x), so the loss is (1 - y) x + (1 + (p - 1) y) (-log sigmoid(x)).
  Tensor coefficient = pos_weight.defined() ? (pos_weight - 1.0) * target + 1.0 : Tensor();
  Tensor loss = (1.0 - target) * input + (coefficient.defined() ? coefficient * log1p_exp_neg : log1p_exp_neg);
  if (weight.defined()) loss = loss * weight;
  return reduce(loss, reduction);
}

Tensor nll_loss(const Tensor& input_in, const Tensor& target_in, const Tensor& weight_in, int64_t ignore_index,
                const std::string& reduction) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in),
               weight = autocast_to_float(weight_in);
  check_reduction("nll_loss", reduction);
  check_class_target("nll_loss", input, target, weight, ignore_index);
  return class_target_loss(input, target, weight, ignore_index, reduction, 0.0);
}

Tensor cross_entropy(const Tensor& input_in, const Tensor& target_in, const Tensor& weight_in, int64_t ignore_index,
                     const std::string& reduction, double label_smoothing) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in),
               weight = autocast_to_float(weight_in);
  check_reduction("cross_entropy", reduction);
  KILN_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
             "cross_entropy: expected label_smoothing in [0, 1], got ", label_smoothing);
  check_input("cross_entropy", input);
  KILN_CHECK(target.defined(), "cross_entropy: the target is undefined");
  if (!target.is_floating_point()) {
    check_class_target("cross_entropy", input, target, weight, ignore_index);
    return class_target_loss(log_softmax(input, class_dim(input)), target, weight, ignore_index, reduction,
                             label_smoothing);
  }
  // Class probabilities: -sum_c w[c] q_c log_softmax(x)_c per sample.
  KILN_CHECK(input.dim() >= 1, "cross_entropy: expected an input of shape (C), (N, C) or (N, C, d1, ...), got ",
             input.meta_str());
  check_elementwise("cross_entropy (class-probability target)", input, target);
  KILN_CHECK(ignore_index < 0, "cross_entropy: ignore_index is not supported with class-probability targets (",
             target.meta_str(), "), got ignore_index ", ignore_index);
  int64_t cdim = class_dim(input);
  int64_t classes = input.size(cdim);
  Tensor q = label_smoothing > 0 ? target * (1.0 - label_smoothing) + label_smoothing / double(classes) : target;
  Tensor terms = log_softmax(input, cdim) * q;
  if (weight.defined()) {
    KILN_CHECK(weight.dim() == 1 && weight.numel() == classes, "cross_entropy: expected a class weight of shape [",
               classes, "] (one per class), got ", weight.meta_str());
    KILN_CHECK(weight.dtype() == input.dtype() && weight.device() == input.device(),
               "cross_entropy: expected the class weight in the input's dtype and device, got weight ",
               weight.meta_str(), " for input ", input.meta_str());
    Shape per_class(size_t(input.dim()), 1);
    per_class[size_t(cdim)] = classes;
    terms = terms * weight.view(per_class);
  }
  if (reduction == "none") return neg(sum(terms, {cdim}));
  if (reduction == "sum") return neg(sum(terms));
  // NOTE: "mean" is over samples N d1 ..., whatever the weights (PyTorch's choice); an
  // empty input gives 0 / 0 = NaN, as PyTorch.
  int64_t samples = classes == 0 ? 0 : input.numel() / classes;
  return neg(sum(terms)) / double(samples);
}

Tensor kl_div(const Tensor& input_in, const Tensor& target_in, const std::string& reduction, bool log_target) {
  const Tensor input = autocast_to_float(input_in), target = autocast_to_float(target_in);
  check_reduction("kl_div", reduction, /*allow_batchmean=*/true);
  check_elementwise("kl_div", input, target);
  KILN_CHECK(reduction != "batchmean" || input.dim() >= 1,
             "kl_div: reduction \"batchmean\" needs an input with a batch dim, got ", input.meta_str());
  Tensor loss;
  if (log_target) {
    loss = exp(target) * (target - input);
  } else {
    // y (log y - x), with 0 log 0 = 0: the log reads 1 where y <= 0, so no NaN reaches
    // the value or the gradient there.
    Tensor positive = gt(target, 0.0);
    loss = where(positive, target * (log(where(positive, target, 1.0)) - input), 0.0);
  }
  if (reduction == "batchmean") return sum(loss) / double(input.size(0));
  return reduce(loss, reduction);
}

}  // namespace functional

// ---- modules ----

Loss::Loss(std::string type_name, std::string reduction_)
    : Module(std::move(type_name)), reduction(std::move(reduction_)) {}

std::string Loss::extra_repr() const { return detail::concat("reduction='", reduction, "'"); }

MSELoss::MSELoss(std::string reduction_) : Loss("MSELoss", std::move(reduction_)) {
  check_reduction("MSELoss", reduction);
}
Tensor MSELoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::mse_loss(input, target, reduction);
}

L1Loss::L1Loss(std::string reduction_) : Loss("L1Loss", std::move(reduction_)) {
  check_reduction("L1Loss", reduction);
}
Tensor L1Loss::forward(const Tensor& input, const Tensor& target) const {
  return functional::l1_loss(input, target, reduction);
}

SmoothL1Loss::SmoothL1Loss(std::string reduction_, double beta_)
    : Loss("SmoothL1Loss", std::move(reduction_)), beta(beta_) {
  check_reduction("SmoothL1Loss", reduction);
  KILN_CHECK(beta >= 0, "SmoothL1Loss: expected beta >= 0, got ", beta);
}
Tensor SmoothL1Loss::forward(const Tensor& input, const Tensor& target) const {
  return functional::smooth_l1_loss(input, target, reduction, beta);
}
std::string SmoothL1Loss::extra_repr() const { return detail::concat(Loss::extra_repr(), ", beta=", beta); }

BCELoss::BCELoss(Tensor weight_, std::string reduction_) : Loss("BCELoss", std::move(reduction_)) {
  check_reduction("BCELoss", reduction);
  weight = register_buffer("weight", std::move(weight_));
}
Tensor BCELoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::binary_cross_entropy(input, target, weight, reduction);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(Tensor weight_, std::string reduction_, Tensor pos_weight_)
    : Loss("BCEWithLogitsLoss", std::move(reduction_)) {
  check_reduction("BCEWithLogitsLoss", reduction);
  weight = register_buffer("weight", std::move(weight_));
  pos_weight = register_buffer("pos_weight", std::move(pos_weight_));
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight);
}

NLLLoss::NLLLoss(Tensor weight_, int64_t ignore_index_, std::string reduction_)
    : Loss("NLLLoss", std::move(reduction_)), ignore_index(ignore_index_) {
  check_reduction("NLLLoss", reduction);
  weight = register_buffer("weight", std::move(weight_));
}
Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::nll_loss(input, target, weight, ignore_index, reduction);
}
std::string NLLLoss::extra_repr() const {
  return detail::concat(Loss::extra_repr(), ", ignore_index=", ignore_index);
}

CrossEntropyLoss::CrossEntropyLoss(Tensor weight_, int64_t ignore_index_, std::string reduction_,
                                   double label_smoothing_)
    : Loss("CrossEntropyLoss", std::move(reduction_)), ignore_index(ignore_index_), label_smoothing(label_smoothing_) {
  check_reduction("CrossEntropyLoss", reduction);
  KILN_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
             "CrossEntropyLoss: expected label_smoothing in [0, 1], got ", label_smoothing);
  weight = register_buffer("weight", std::move(weight_));
}
Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing);
}
std::string CrossEntropyLoss::extra_repr() const {
  return detail::concat(Loss::extra_repr(), ", ignore_index=", ignore_index, ", label_smoothing=", label_smoothing);
}

KLDivLoss::KLDivLoss(std::string reduction_, bool log_target_)
    : Loss("KLDivLoss", std::move(reduction_)), log_target(log_target_) {
  check_reduction("KLDivLoss", reduction, /*allow_batchmean=*/true);
}
Tensor KLDivLoss::forward(const Tensor& input, const Tensor& target) const {
  return functional::kl_div(input, target, reduction, log_target);
}
std::string KLDivLoss::extra_repr() const {
  return detail::concat(Loss::extra_repr(), ", log_target=", log_target ? "True" : "False");
}

}  // namespace kiln::nn
