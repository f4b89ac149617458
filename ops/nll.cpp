// class_nll_loss: the NllLoss Function over the kernels of ops/kernels/nll.h, and its
// backward, by kernel or (under create_graph) composed of kiln ops so that it can be
// differentiated again.

#include "ops/nll.h"

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/index.h"
#include "ops/kernels/nll.h"
#include "ops/unary.h"

namespace kiln {

KILN_DEFINE_STUB(nll_forward_stub, "nll_loss", NllForwardKernel);
KILN_DEFINE_STUB(nll_backward_stub, "nll_loss", NllBackwardKernel);  // one op, two stubs

namespace {

constexpr const char* kOp = "nll_loss";

// The targets and class weights: constants of the loss, not inputs with a gradient.
struct NllTargets {
  Tensor target, weight;  // weight may be undefined
  int64_t ignore_index = -100;
};

// logp as the kernels see it: (N, C, S).
struct NllRows {
  int64_t n = 1, c = 1, s = 1;
};
NllRows rows_of(const Tensor& logp) {
  NllRows r;
  if (logp.dim() == 1) {
    r.c = logp.size(0);
    return r;
  }
  r.n = logp.size(0), r.c = logp.size(1);
  for (int64_t d = 2; d < logp.dim(); ++d) r.s *= logp.size(d);
  return r;
}

// loss = -weight[t] logp[.., t, ..] per target, reduced (see ops/nll.h). The backward
// writes -weight[t] g (divided by the total weight for Mean) at each target's class.
struct NllLoss : Function<NllLoss> {
  static constexpr const char* kName = "nll_loss";
  NllReduction reduction = NllReduction::Mean;
  int64_t ignore_index = -100;
  bool has_weight = false;
  double total_weight = 0;  // sum of weight[t] over the targets not ignored
  Shape logp_shape;
  NllRows rows;

  Tensor forward(const Tensor& logp, const NllTargets& targets, NllReduction reduction_) {
    reduction = reduction_;
    ignore_index = targets.ignore_index;
    has_weight = targets.weight.defined();
    logp_shape = logp.shape();
    rows = rows_of(logp);
    const Tensor target = targets.target.contiguous().view({rows.n, rows.s});
    const Tensor weight = has_weight ? targets.weight.contiguous() : Tensor();
    Tensor losses = empty({rows.n, rows.s}, options_of(logp));
    Tensor totals = empty({2}, TensorOptions(DType::Float64));
    nll_forward_stub(logp.device(), losses, totals, logp.contiguous().view({rows.n, rows.c, rows.s}), target, weight,
                     ignore_index);
    const double* sums = totals.data_ptr<double>();
    total_weight = sums[1];
    if (has_weight) {
      save(target, weight);
    } else {
      save(target);
    }
    switch (reduction) {
      case NllReduction::None: return losses.view(targets.target.shape());
      case NllReduction::Sum: return scalar_tensor(sums[0], options_of(logp));
      case NllReduction::Mean: break;
    }
    return scalar_tensor(sums[0] / total_weight, options_of(logp));
  }

  TensorList backward(const Tensor& g) {
    const Tensor target = saved(0), weight = has_weight ? saved(1) : Tensor();
    const double divisor = reduction == NllReduction::Mean ? total_weight : 1.0;
    if (!GradMode::is_enabled() && nll_backward_stub.has(g.device().type)) {
      Tensor dlogp = empty({rows.n, rows.c, rows.s}, options_of(g));
      const Tensor grad = reduction == NllReduction::None ? g.contiguous().view({rows.n, rows.s}) : g;
      nll_backward_stub(g.device(), dlogp, grad, divisor, target, weight, ignore_index);
      return {dlogp.view(logp_shape)};
    }
    // Under create_graph: the same values from differentiable ops (linear in g).
    const Tensor kept = ne(target, double(ignore_index));
    const Tensor safe = where(kept, target, 0.0);
    Tensor coef = kept.to(g.dtype());
    if (has_weight) coef = index_select(weight, 0, safe.flatten()).view({rows.n, rows.s}) * coef;
    const Tensor grad = reduction == NllReduction::None ? g.reshape({rows.n, rows.s}) : g;
    const Tensor src = neg(coef) * (grad / divisor);
    Tensor dlogp = scatter_add(zeros({rows.n, rows.c, rows.s}, options_of(g)), 1, safe.unsqueeze(1), src.unsqueeze(1));
    return {dlogp.reshape(logp_shape)};
  }
};

}  // namespace

bool class_nll_loss_available(const Device& device) {
  return nll_forward_stub.has(device.type) && nll_backward_stub.has(device.type);
}

Tensor class_nll_loss(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                      NllReduction reduction) {
  KILN_CHECK(logp.defined() && target.defined(), kOp, ": logp and target must be defined tensors");
  KILN_CHECK(logp.is_floating_point() && logp.dim() >= 1, kOp,
             ": expected log-probabilities of shape (C) or (N, C, d1, ...) and a floating dtype, got ",
             logp.meta_str());
  KILN_CHECK(target.dtype() == DType::Int64 && target.device() == logp.device(), kOp,
             ": expected int64 class indices on the input's device as the target, got ", target.meta_str(),
             " for input ", logp.meta_str());
  Shape expected = logp.shape();
  expected.erase(expected.begin() + (logp.dim() == 1 ? 0 : 1));
  KILN_CHECK(target.shape() == expected, kOp, ": expected a target of shape ", expected, " for input ",
             logp.meta_str(), ", got ", target.meta_str());
  const int64_t classes = logp.size(logp.dim() == 1 ? 0 : 1);
  KILN_CHECK(!weight.defined() || (weight.dim() == 1 && weight.numel() == classes && weight.dtype() == logp.dtype() &&
                                   weight.device() == logp.device()),
             kOp, ": expected a class weight of shape [", classes, "] in the input's dtype and device, got ",
             weight.defined() ? weight.meta_str() : std::string("undefined"), " for input ", logp.meta_str());
  KILN_CHECK(class_nll_loss_available(logp.device()), kOp, ": no kernel for ", logp.meta_str());
  return apply<NllLoss>(logp, NllTargets{target, weight.defined() ? weight.detach() : Tensor(), ignore_index},
                        reduction);
}

}  // namespace kiln
