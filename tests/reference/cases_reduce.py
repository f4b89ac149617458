"""Reference cases for ops/reduce.h (softmax is in cases_softmax.py). Inputs of max-like
ops are distinct() so no ties sit on a kink; ties get their own cases without gradcheck."""
import torch

from refcase import Case, away_from_zero, distinct, rand, randint, randn


def _vector_norm(p, dim=None, keepdim=False):
    return lambda x: torch.linalg.vector_norm(x, p, dim=dim, keepdim=keepdim)


def cases():
    inf = float("inf")
    return [
        # sum
        Case("sum.all", torch.sum, lambda: [randn(3, 4)]),
        Case("sum.dim1", lambda x: torch.sum(x, 1), lambda: [randn(3, 4, 2)]),
        Case("sum.dims02_keepdim", lambda x: torch.sum(x, (0, 2), keepdim=True), lambda: [randn(3, 4, 2)]),
        Case("sum.negdim_keepdim", lambda x: torch.sum(x, -1, keepdim=True), lambda: [randn(2, 3, 4)]),
        Case("sum.negdims", lambda x: torch.sum(x, (-3, -1)), lambda: [randn(2, 3, 4)]),
        Case("sum.f64", lambda x: torch.sum(x, 0), lambda: [randn(2, 3, dtype=torch.float64)]),
        Case("sum.scalar0d", torch.sum, lambda: [randn()]),
        Case("sum.scalar0d_dim0", lambda x: torch.sum(x, 0), lambda: [randn()]),
        Case("sum.size1dims", lambda x: torch.sum(x, (0, 2)), lambda: [randn(1, 3, 1)]),
        Case("sum.int64", lambda x: torch.sum(x, 1), lambda: [randint(-5, 5, 3, 4)], grad=False),
        Case("sum.bool", torch.sum, lambda: [torch.tensor([True, False, True, True])], grad=False),
        # mean
        Case("mean.all", torch.mean, lambda: [randn(3, 4)]),
        Case("mean.negdims", lambda x: torch.mean(x, (-1, 0)), lambda: [randn(2, 3, 4)]),
        Case("mean.dim1_keepdim", lambda x: torch.mean(x, 1, keepdim=True), lambda: [randn(3, 4)]),
        Case("mean.f64", lambda x: torch.mean(x, 1), lambda: [randn(3, 4, dtype=torch.float64)]),
        # prod
        Case("prod.all", torch.prod, lambda: [rand(2, 3, low=0.5, high=1.5)]),
        Case("prod.dim1", lambda x: torch.prod(x, 1), lambda: [away_from_zero(3, 4, margin=0.3)]),
        # torch.prod takes a single dim: two of them make the multi-dim product.
        Case("prod.dims_keepdim", lambda x: torch.prod(torch.prod(x, 2, keepdim=True), 0, keepdim=True),
             lambda: [away_from_zero(2, 3, 2, margin=0.3)]),
        # The zero-aware backward of prod is exact, but its own derivative is not yet
        # (see Prod in ops/reduce.cpp): first order only.
        Case("prod.with_zeros", lambda x: torch.prod(x, 1),
             lambda: [torch.tensor([[1.5, 0.0, -2.0, 0.5], [0.0, 3.0, 0.0, 1.0], [2.0, -1.0, 0.5, 1.5]])],
             gradgradcheck=False),
        Case("prod.int64", lambda x: torch.prod(x, 0), lambda: [randint(-3, 4, 3, 2)], grad=False),
        # var / std
        Case("var.dim1", lambda x: torch.var(x, 1), lambda: [randn(3, 5)]),
        Case("var.all_biased", lambda x: torch.var(x, unbiased=False), lambda: [randn(3, 4)]),
        Case("var.dims_keepdim", lambda x: torch.var(x, (0, 2), keepdim=True), lambda: [randn(2, 3, 4)]),
        Case("std.dim0", lambda x: torch.std(x, 0), lambda: [randn(4, 3)]),
        Case("std.all_biased_f64", lambda x: torch.std(x, unbiased=False), lambda: [randn(3, 4, dtype=torch.float64)]),
        Case("std.negdim_keepdim", lambda x: torch.std(x, -1, keepdim=True), lambda: [randn(2, 3, 4)]),
        # norm
        Case("norm.p2_all", _vector_norm(2), lambda: [randn(3, 4)]),
        Case("norm.p1_dim1", _vector_norm(1, dim=1), lambda: [away_from_zero(3, 4)]),
        Case("norm.inf_dim0", _vector_norm(inf, dim=0), lambda: [distinct(4, 3)]),
        Case("norm.p3_negdim_keepdim", _vector_norm(3, dim=-1, keepdim=True), lambda: [away_from_zero(3, 4)]),
        Case("norm.p1_5_dims", _vector_norm(1.5, dim=(0, 2)), lambda: [away_from_zero(2, 3, 2)]),
        Case("norm.p2_f64", _vector_norm(2, dim=1), lambda: [randn(3, 4, dtype=torch.float64)]),
        # logsumexp
        Case("logsumexp.dim1", lambda x: torch.logsumexp(x, 1), lambda: [randn(3, 4)]),
        Case("logsumexp.dims_keepdim", lambda x: torch.logsumexp(x, (0, 2), keepdim=True), lambda: [randn(2, 3, 4)]),
        Case("logsumexp.all", lambda x: torch.logsumexp(x, (0, 1)), lambda: [randn(3, 4)]),
        Case("logsumexp.large", lambda x: torch.logsumexp(x, -1), lambda: [randn(3, 4) * 5 + 1000]),
        # amax / amin
        Case("amax.dim1", lambda x: torch.amax(x, 1), lambda: [distinct(3, 4)]),
        Case("amax.all", torch.amax, lambda: [distinct(3, 4)]),
        Case("amin.dims_keepdim", lambda x: torch.amin(x, (0, 2), keepdim=True), lambda: [distinct(2, 3, 4)]),
        Case("amin.negdim", lambda x: torch.amin(x, -1), lambda: [distinct(2, 3, 4)]),
        Case("amax.ties", lambda x: torch.amax(x, 1),
             lambda: [torch.tensor([[1.0, 2.0, 2.0], [3.0, 3.0, 3.0], [0.5, -1.0, 0.25]])], gradcheck=False),
        Case("amax.int64", lambda x: torch.amax(x, 0), lambda: [randint(-9, 9, 3, 4)], grad=False),
        # max / min with a dim: values and first indices
        Case("max.dim1", lambda x: torch.max(x, 1), lambda: [distinct(3, 4)]),
        Case("max.negdim_keepdim", lambda x: torch.max(x, -2, keepdim=True), lambda: [distinct(2, 3, 4)]),
        Case("min.dim0", lambda x: torch.min(x, 0), lambda: [distinct(4, 3)]),
        Case("min.dim2_f64", lambda x: torch.min(x, 2), lambda: [distinct(2, 3, 4, dtype=torch.float64)]),
        Case("max.ties_first_index", lambda x: torch.max(x, 1),
             lambda: [torch.tensor([[1.0, 2.0, 2.0], [3.0, 3.0, 3.0], [0.5, -1.0, 0.5]])], gradcheck=False),
        Case("max.scalar0d", lambda x: torch.max(x, 0), lambda: [randn()]),
        # max / min over everything
        Case("max.all", torch.max, lambda: [distinct(3, 4)]),
        Case("min.all", torch.min, lambda: [distinct(2, 3, 2)]),
        # argmax / argmin
        Case("argmax.dim1", lambda x: torch.argmax(x, 1), lambda: [distinct(3, 4)], grad=False),
        Case("argmin.dim0_keepdim", lambda x: torch.argmin(x, 0, keepdim=True), lambda: [distinct(4, 3)], grad=False),
        Case("argmax.flat", torch.argmax, lambda: [distinct(3, 4)], grad=False),
        Case("argmin.flat", torch.argmin, lambda: [distinct(2, 3, 2)], grad=False),
        Case("argmax.ties", lambda x: torch.argmax(x, 1),
             lambda: [torch.tensor([[1.0, 2.0, 2.0], [3.0, 3.0, 3.0]])], grad=False),
        # all / any
        Case("all.bool", torch.all, lambda: [torch.tensor([[True, True], [False, True]])], grad=False),
        Case("all.true", torch.all, lambda: [torch.tensor([True, True, True])], grad=False),
        Case("all.float", torch.all, lambda: [torch.tensor([1.5, -2.0, float("nan")])], grad=False),
        Case("any.bool", torch.any, lambda: [torch.tensor([[False, False], [False, True]])], grad=False),
        Case("any.false", torch.any, lambda: [torch.tensor([[0.0, 0.0], [0.0, -0.0]])], grad=False),
    ]
