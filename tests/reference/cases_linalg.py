"""Reference cases for ops/linalg.h: matmul's shape rules (1-D and 2-D operands, batched
with broadcast batch dims), mm, bmm, mv, dot, outer and addmm. Transposed operands (read
in place by the GEMM) come from the fn, e.g. a.t() @ b."""
import torch

from refcase import Case, randn


def cases():
    return [
        # matmul, one case per shape rule
        Case("matmul.1d_1d", torch.matmul, lambda: [randn(5), randn(5)]),
        Case("matmul.2d_1d", torch.matmul, lambda: [randn(3, 4), randn(4)]),
        Case("matmul.1d_2d", torch.matmul, lambda: [randn(4), randn(4, 3)]),
        Case("matmul.2d_2d", torch.matmul, lambda: [randn(3, 4), randn(4, 5)]),
        Case("matmul.3d_2d_folded", torch.matmul, lambda: [randn(2, 3, 4), randn(4, 2)]),
        Case("matmul.2d_3d", torch.matmul, lambda: [randn(3, 4), randn(2, 4, 2)]),
        Case("matmul.3d_3d", torch.matmul, lambda: [randn(2, 3, 4), randn(2, 4, 3)]),
        Case("matmul.1d_3d", torch.matmul, lambda: [randn(3), randn(2, 3, 2)]),
        Case("matmul.3d_1d", torch.matmul, lambda: [randn(2, 3, 4), randn(4)]),
        Case("matmul.broadcast_batch", torch.matmul, lambda: [randn(2, 1, 3, 2), randn(3, 2, 2)]),
        Case("matmul.4d_4d_broadcast", torch.matmul, lambda: [randn(1, 2, 2, 3), randn(3, 1, 3, 2)]),
        Case("matmul.f64", torch.matmul, lambda: [randn(3, 4, dtype=torch.float64), randn(4, 2, dtype=torch.float64)]),
        Case("matmul.a_transposed", lambda a, b: a.t() @ b, lambda: [randn(4, 3), randn(4, 2)]),
        Case("matmul.batched_b_transposed", lambda a, b: a @ b.transpose(-1, -2),
             lambda: [randn(2, 3, 4), randn(2, 2, 4)]),
        # mm, bmm, mv, dot, outer
        Case("mm.basic", torch.mm, lambda: [randn(3, 4), randn(4, 5)]),
        Case("mm.both_transposed", lambda a, b: torch.mm(a.t(), b.t()), lambda: [randn(4, 3), randn(5, 4)]),
        Case("mm.f64", torch.mm, lambda: [randn(2, 3, dtype=torch.float64), randn(3, 4, dtype=torch.float64)]),
        Case("bmm.basic", torch.bmm, lambda: [randn(2, 3, 4), randn(2, 4, 2)]),
        Case("bmm.a_transposed", lambda a, b: torch.bmm(a.transpose(1, 2), b),
             lambda: [randn(2, 4, 3), randn(2, 4, 2)]),
        Case("mv.basic", torch.mv, lambda: [randn(3, 4), randn(4)]),
        Case("dot.basic", torch.dot, lambda: [randn(6), randn(6)]),
        Case("outer.basic", torch.outer, lambda: [randn(3), randn(4)]),
        # addmm: bias broadcast to (n, m), scalars beta and alpha
        Case("addmm.bias1d", torch.addmm, lambda: [randn(5), randn(3, 4), randn(4, 5)]),
        Case("addmm.bias2d", torch.addmm, lambda: [randn(3, 5), randn(3, 4), randn(4, 5)]),
        Case("addmm.bias_column_scalars", lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2.0),
             lambda: [randn(3, 1), randn(3, 4), randn(4, 5)]),
        Case("addmm.bias1d_scalars_f64", lambda c, a, b: torch.addmm(c, a, b, beta=-1.5, alpha=0.25),
             lambda: [randn(5, dtype=torch.float64), randn(3, 4, dtype=torch.float64),
                      randn(4, 5, dtype=torch.float64)]),
        Case("addmm.beta0", lambda c, a, b: torch.addmm(c, a, b, beta=0.0),
             lambda: [randn(5), randn(3, 4), randn(4, 5)]),
        # the Linear layer's pattern: x @ W^T + bias with W read transposed in place
        Case("addmm.linear", lambda c, x, w: torch.addmm(c, x, w.t()), lambda: [randn(3), randn(4, 5), randn(3, 5)]),
    ]
