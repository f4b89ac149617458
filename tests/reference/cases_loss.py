"""Reference cases for the losses of nn/loss.h (torch.nn.functional's losses).

Class weights and pos_weight are constants here and in tests/nn/loss_test.cpp (PyTorch does
not differentiate them); int64 targets get no gradient; floating targets get PyTorch's.
"""
import torch
import torch.nn.functional as F

from refcase import Case, distinct, rand, randint, randn

W4 = [0.5, 1.0, 2.0, 0.25]        # class weights for C = 4
W3 = [1.5, 0.5, 0.75]             # for C = 3
POS4 = [2.0, 0.5, 1.0, 3.0]       # pos_weight over the last dim (4)


def w(values, like):
    return torch.tensor(values, dtype=like.dtype)


def shifted(make_target, make_diff):
    """[target + diff, target]: the difference input - target is diff exactly up to rounding."""
    def make():
        y = make_target()
        return [y + make_diff(), y]
    return make


def away(*shape):
    # |d| >= 0.1: l1 and smooth_l1 stay away from their kinks
    x = torch.randn(shape)
    return x + torch.sign(x) * 0.1 + (x == 0) * 0.1


def probs(*shape, low=0.05, high=0.95):
    return rand(*shape, low=low, high=high)


def soft_targets(*shape, dim=1):
    return torch.softmax(torch.randn(shape), dim)


def cases():
    return [
        # ---- regression ----
        Case("mse_loss.mean", F.mse_loss, lambda: [randn(3, 4), randn(3, 4)]),
        Case("mse_loss.sum", lambda x, y: F.mse_loss(x, y, reduction="sum"), lambda: [randn(2, 3, 2), randn(2, 3, 2)]),
        Case("mse_loss.none", lambda x, y: F.mse_loss(x, y, reduction="none"), lambda: [randn(5), randn(5)]),
        Case("l1_loss.mean", F.l1_loss, shifted(lambda: randn(3, 4), lambda: away(3, 4))),
        Case("l1_loss.sum", lambda x, y: F.l1_loss(x, y, reduction="sum"), shifted(lambda: randn(6), lambda: away(6))),
        Case("l1_loss.none", lambda x, y: F.l1_loss(x, y, reduction="none"),
             shifted(lambda: randn(2, 3), lambda: away(2, 3))),
        # distinct(3, 4) differences run from -1.8 to 2.27 in steps of 0.37: both sides of
        # beta, none within 0.05 of +-beta
        Case("smooth_l1_loss.mean", F.smooth_l1_loss, shifted(lambda: randn(3, 4), lambda: distinct(3, 4))),
        Case("smooth_l1_loss.beta_half_none", lambda x, y: F.smooth_l1_loss(x, y, reduction="none", beta=0.5),
             shifted(lambda: randn(3, 4), lambda: distinct(3, 4))),
        Case("smooth_l1_loss.beta2_sum", lambda x, y: F.smooth_l1_loss(x, y, reduction="sum", beta=2.0),
             shifted(lambda: randn(3, 4), lambda: distinct(3, 4))),
        Case("smooth_l1_loss.beta0", lambda x, y: F.smooth_l1_loss(x, y, beta=0.0),
             shifted(lambda: randn(3, 4), lambda: away(3, 4))),
        # ---- binary ----
        Case("binary_cross_entropy.mean", F.binary_cross_entropy, lambda: [probs(3, 4), rand(3, 4)]),
        Case("binary_cross_entropy.sum_weight",
             lambda x, y: F.binary_cross_entropy(x, y, weight=w(W4, x), reduction="sum"),
             lambda: [probs(3, 4), rand(3, 4)]),
        Case("binary_cross_entropy.none", lambda x, y: F.binary_cross_entropy(x, y, reduction="none"),
             lambda: [probs(2, 3), (rand(2, 3) > 0.5).float()]),
        # close to 0 and 1, where log(x) and log(1 - x) are steep but finite
        Case("binary_cross_entropy.near_edges", lambda x, y: F.binary_cross_entropy(x, y, reduction="none"),
             lambda: [torch.tensor([1e-3, 0.999, 0.01, 0.99, 1e-3, 0.999]),
                      torch.tensor([1.0, 0.0, 0.5, 0.5, 0.0, 1.0])], gradcheck=False),
        # exactly 0 and 1: the logs clamp at -100 (value only; the gradient is infinite there)
        Case("binary_cross_entropy.clamped", lambda x, y: F.binary_cross_entropy(x, y, reduction="none"),
             lambda: [torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-45]), torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0])],
             grad=False),
        Case("binary_cross_entropy_with_logits.mean", F.binary_cross_entropy_with_logits,
             lambda: [randn(3, 4), rand(3, 4)]),
        Case("binary_cross_entropy_with_logits.weight_sum",
             lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight=w(W4, x), reduction="sum"),
             lambda: [randn(3, 4), rand(3, 4)]),
        Case("binary_cross_entropy_with_logits.pos_weight_none",
             lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=w(POS4, x)),
             lambda: [randn(2, 4), rand(2, 4)]),
        Case("binary_cross_entropy_with_logits.weight_pos_weight",
             lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight=w(W3, x).reshape(3, 1),
                                                             pos_weight=w(POS4, x)),
             lambda: [randn(3, 4), rand(3, 4)]),
        # |x| up to 40, where sigmoid saturates: the stable form keeps value and gradient exact
        Case("binary_cross_entropy_with_logits.large_logits",
             lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
             lambda: [torch.tensor([-40.0, -20.0, 0.0, 20.0, 40.0, 3.0]),
                      torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0, 0.25])]),
        # ---- classification: class indices ----
        Case("nll_loss.mean", F.nll_loss, lambda: [torch.log_softmax(randn(5, 4), 1), randint(0, 4, 5)]),
        Case("nll_loss.sum", lambda x, t: F.nll_loss(x, t, reduction="sum"), lambda: [randn(4, 3), randint(0, 3, 4)]),
        Case("nll_loss.none", lambda x, t: F.nll_loss(x, t, reduction="none"), lambda: [randn(4, 3), randint(0, 3, 4)]),
        Case("nll_loss.weight_mean", lambda x, t: F.nll_loss(x, t, weight=w(W4, x)),
             lambda: [randn(6, 4), torch.tensor([0, 1, 2, 3, 2, 2])]),
        Case("nll_loss.weight_ignore_index", lambda x, t: F.nll_loss(x, t, weight=w(W4, x), ignore_index=1),
             lambda: [randn(6, 4), torch.tensor([0, 1, 2, 3, 1, 2])]),
        Case("nll_loss.ignore_default_none", lambda x, t: F.nll_loss(x, t, reduction="none"),
             lambda: [randn(4, 3), torch.tensor([2, -100, 0, -100])]),
        Case("nll_loss.nd_weight", lambda x, t: F.nll_loss(x, t, weight=w(W3, x)),
             lambda: [randn(2, 3, 2, 2), randint(0, 3, 2, 2, 2)]),
        Case("nll_loss.nd_none", lambda x, t: F.nll_loss(x, t, reduction="none"),
             lambda: [randn(2, 3, 4), randint(0, 3, 2, 4)]),
        Case("nll_loss.unbatched", F.nll_loss, lambda: [randn(5), torch.tensor(3)]),
        Case("cross_entropy.mean", F.cross_entropy, lambda: [randn(5, 4), randint(0, 4, 5)]),
        Case("cross_entropy.sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"),
             lambda: [randn(4, 3), randint(0, 3, 4)]),
        Case("cross_entropy.none", lambda x, t: F.cross_entropy(x, t, reduction="none"),
             lambda: [randn(4, 3), randint(0, 3, 4)]),
        Case("cross_entropy.weight_ignore", lambda x, t: F.cross_entropy(x, t, weight=w(W4, x)),
             lambda: [randn(5, 4), torch.tensor([3, -100, 0, 2, 2])]),
        Case("cross_entropy.smoothing", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
             lambda: [randn(5, 4), randint(0, 4, 5)]),
        Case("cross_entropy.smoothing_ignore_sum",
             lambda x, t: F.cross_entropy(x, t, reduction="sum", label_smoothing=0.1, ignore_index=0),
             lambda: [randn(5, 4), torch.tensor([0, 1, 3, 0, 2])]),
        Case("cross_entropy.smoothing_weight",
             lambda x, t: F.cross_entropy(x, t, weight=w(W4, x), label_smoothing=0.3),
             lambda: [randn(5, 4), torch.tensor([3, -100, 0, 2, 1])]),
        Case("cross_entropy.smoothing_weight_none",
             lambda x, t: F.cross_entropy(x, t, weight=w(W4, x), reduction="none", label_smoothing=0.3),
             lambda: [randn(5, 4), torch.tensor([3, -100, 0, 2, 1])]),
        Case("cross_entropy.smoothing_full", lambda x, t: F.cross_entropy(x, t, label_smoothing=1.0),
             lambda: [randn(3, 4), randint(0, 4, 3)]),
        Case("cross_entropy.nd_smoothing_weight",
             lambda x, t: F.cross_entropy(x, t, weight=w(W3, x), label_smoothing=0.1),
             lambda: [randn(2, 3, 2, 2), torch.tensor([[[0, 1], [2, -100]], [[1, 1], [0, 2]]])]),
        Case("cross_entropy.unbatched", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
             lambda: [randn(4), torch.tensor(2)]),
        # ---- classification: class probabilities ----
        Case("cross_entropy.probs_mean", F.cross_entropy, lambda: [randn(3, 4), soft_targets(3, 4)]),
        Case("cross_entropy.probs_weight_smoothing_sum",
             lambda x, q: F.cross_entropy(x, q, weight=w(W4, x), reduction="sum", label_smoothing=0.2),
             lambda: [randn(3, 4), soft_targets(3, 4)]),
        Case("cross_entropy.probs_weight_mean",
             lambda x, q: F.cross_entropy(x, q, weight=w(W4, x)),
             lambda: [randn(3, 4), soft_targets(3, 4)]),
        Case("cross_entropy.probs_nd_none",
             lambda x, q: F.cross_entropy(x, q, reduction="none", label_smoothing=0.1),
             lambda: [randn(2, 3, 4), soft_targets(2, 3, 4)]),
        # ---- distributions ----
        Case("kl_div.batchmean", lambda x, y: F.kl_div(x, y, reduction="batchmean"),
             lambda: [torch.log_softmax(randn(3, 4), 1), soft_targets(3, 4)]),
        Case("kl_div.sum", lambda x, y: F.kl_div(x, y, reduction="sum"),
             lambda: [torch.log_softmax(randn(3, 4), 1), soft_targets(3, 4)]),
        Case("kl_div.mean", lambda x, y: F.kl_div(x, y, reduction="mean"),
             lambda: [torch.log_softmax(randn(2, 5), 1), soft_targets(2, 5)]),
        Case("kl_div.none", lambda x, y: F.kl_div(x, y, reduction="none"),
             lambda: [torch.log_softmax(randn(2, 5), 1), soft_targets(2, 5)]),
        # zero target probabilities contribute 0 (0 log 0 = 0); value and input gradient only,
        # as the target gradient log(y) + 1 is -inf there
        Case("kl_div.zero_targets", lambda x, y: F.kl_div(x, y.detach(), reduction="sum"),
             lambda: [torch.log_softmax(randn(2, 3), 1), torch.tensor([[0.0, 0.25, 0.75], [0.5, 0.0, 0.5]])],
             gradcheck=False),
        Case("kl_div.log_target_batchmean", lambda x, y: F.kl_div(x, y, reduction="batchmean", log_target=True),
             lambda: [torch.log_softmax(randn(3, 4), 1), torch.log_softmax(randn(3, 4), 1)]),
        Case("kl_div.log_target_none", lambda x, y: F.kl_div(x, y, reduction="none", log_target=True),
             lambda: [torch.log_softmax(randn(2, 3), 1), torch.log_softmax(randn(2, 3), 1)]),
    ]
