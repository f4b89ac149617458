"""Reference cases for ops/binary.h: broadcasting, type promotion, scalar forms."""
import torch

from refcase import Case, away_from_zero, distinct, rand, randint, randn


def cases():
    return [
        Case("add.same", torch.add, lambda: [randn(3, 4), randn(3, 4)]),
        Case("add.broadcast", torch.add, lambda: [randn(2, 1, 4), randn(3, 1)]),
        Case("add.alpha", lambda a, b: torch.add(a, b, alpha=2.5), lambda: [randn(3, 4), randn(4)]),
        Case("add.scalar", lambda a: a + 1.5, lambda: [randn(3, 4)]),
        Case("add.promote_f64", torch.add, lambda: [randn(3, 2), randn(3, 2, dtype=torch.float64)]),
        Case("add.int_float", torch.add, lambda: [randint(-5, 5, 3, 2), randn(3, 2)]),
        Case("add.int", torch.add, lambda: [randint(-5, 5, 3, 2), randint(-5, 5, 2)], grad=False),
        Case("add.scalar0d_tensor", torch.add, lambda: [randn(3, 2), randn()]),
        Case("sub.broadcast", torch.sub, lambda: [randn(4, 1), randn(1, 5)]),
        Case("sub.alpha", lambda a, b: torch.sub(a, b, alpha=0.5), lambda: [randn(3, 4), randn(3, 4)]),
        Case("rsub.scalar", lambda a: 2.0 - a, lambda: [randn(3, 4)]),
        Case("mul.same", torch.mul, lambda: [randn(3, 4), randn(3, 4)]),
        Case("mul.broadcast3d", torch.mul, lambda: [randn(2, 3, 1), randn(1, 3, 4)]),
        Case("mul.scalar", lambda a: a * -3.0, lambda: [randn(3, 4)]),
        Case("mul.self", lambda a: a * a, lambda: [randn(3, 4)]),
        Case("div.same", torch.div, lambda: [randn(3, 4), away_from_zero(3, 4, margin=0.5)]),
        Case("div.broadcast", torch.div, lambda: [randn(2, 3), away_from_zero(3, margin=0.5)]),
        Case("div.int", torch.div, lambda: [randint(-9, 9, 5), randint(1, 4, 5)], grad=False),
        Case("rdiv.scalar", lambda a: 2.0 / a, lambda: [away_from_zero(3, 4, margin=0.5)]),
        Case("div.scalar", lambda a: a / 4.0, lambda: [randn(3, 4)]),
        Case("pow.tensor", torch.pow, lambda: [rand(3, 4, low=0.3, high=2.0), randn(3, 4)]),
        Case("pow.broadcast", torch.pow, lambda: [rand(2, 3, low=0.3, high=2.0), randn(3)]),
        Case("maximum.basic", torch.maximum, lambda: [distinct(3, 4), distinct(3, 4) + 0.05]),
        Case("maximum.broadcast", torch.maximum, lambda: [distinct(2, 3), distinct(3) + 0.05]),
        Case("maximum.ties", torch.maximum, lambda: [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 3.0])],
             gradcheck=False),
        Case("minimum.basic", torch.minimum, lambda: [distinct(3, 4), distinct(3, 4) + 0.05]),
        Case("where.basic", torch.where,
             lambda: [torch.rand(3, 4) > 0.5, randn(3, 4), randn(3, 4)]),
        Case("where.broadcast", torch.where, lambda: [torch.rand(3, 1) > 0.5, randn(1, 4), randn(3, 4)]),
        Case("where.scalar", lambda c, a: torch.where(c, a, torch.tensor(0.0)), lambda: [torch.rand(3, 4) > 0.5, randn(3, 4)]),
        Case("eq.basic", torch.eq, lambda: [randint(0, 3, 3, 4), randint(0, 3, 4)], grad=False),
        Case("ne.basic", torch.ne, lambda: [randint(0, 3, 3, 4), randint(0, 3, 3, 4)], grad=False),
        Case("lt.basic", torch.lt, lambda: [randn(3, 4), randn(3, 4)], grad=False),
        Case("le.scalar", lambda a: torch.le(a, 0.0), lambda: [randn(3, 4)], grad=False),
        Case("gt.broadcast", torch.gt, lambda: [randn(3, 1), randn(4)], grad=False),
        Case("ge.basic", torch.ge, lambda: [randint(0, 3, 6), randint(0, 3, 6)], grad=False),
        Case("logical_and.basic", torch.logical_and, lambda: [torch.rand(5) > 0.5, torch.rand(5) > 0.5], grad=False),
        Case("logical_or.basic", torch.logical_or, lambda: [torch.rand(5) > 0.5, torch.rand(5) > 0.5], grad=False),
    ]
