"""Reference cases for softmax and log_softmax (ops/reduce.h): each dim position, large
inputs (stability), -inf entries and a row of only -inf (NaN, as PyTorch)."""
import torch

from refcase import Case, randn

NEG_INF = float("-inf")


def _with_neg_inf():
    return [torch.tensor([[0.5, NEG_INF, 1.0, -0.3], [NEG_INF, 2.0, 0.1, 0.7], [0.2, -1.0, 0.4, NEG_INF]])]


def _all_neg_inf_row():
    return [torch.tensor([[NEG_INF, NEG_INF, NEG_INF], [0.0, NEG_INF, 1.0]])]


def cases():
    out = []
    for name, fn in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
        out += [
            Case(f"{name}.last", lambda x, fn=fn: fn(x, -1), lambda: [randn(3, 5)]),
            Case(f"{name}.dim0", lambda x, fn=fn: fn(x, 0), lambda: [randn(4, 3)]),
            Case(f"{name}.middle", lambda x, fn=fn: fn(x, 1), lambda: [randn(2, 3, 4)]),
            Case(f"{name}.f64", lambda x, fn=fn: fn(x, 1), lambda: [randn(3, 4, dtype=torch.float64)]),
            Case(f"{name}.large", lambda x, fn=fn: fn(x, 1), lambda: [randn(3, 4) * 30 + 500]),
            # log_softmax outputs -inf there, where finite differences are NaN: no gradcheck.
            Case(f"{name}.neg_inf", lambda x, fn=fn: fn(x, 1), _with_neg_inf, gradcheck=(name == "softmax")),
            Case(f"{name}.all_neg_inf_row", lambda x, fn=fn: fn(x, 1), _all_neg_inf_row, grad=False),
            Case(f"{name}.scalar0d", lambda x, fn=fn: fn(x, 0), lambda: [randn()]),
            Case(f"{name}.size1dim", lambda x, fn=fn: fn(x, 1), lambda: [randn(3, 1)]),
        ]
    return out
