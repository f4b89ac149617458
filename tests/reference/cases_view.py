"""Reference cases for ops/view.h: views and copies, forward values and gradients."""
import torch

from refcase import Case, randn


def cases():
    return [
        Case("view.basic", lambda x: x.view(4, 3), lambda: [randn(3, 4)]),
        Case("view.infer", lambda x: x.view(-1, 2), lambda: [randn(3, 4)]),
        Case("reshape.transposed", lambda x: x.t().reshape(12), lambda: [randn(3, 4)]),
        Case("permute.basic", lambda x: x.permute(2, 0, 1), lambda: [randn(2, 3, 4)]),
        Case("transpose.basic", lambda x: x.transpose(0, 2), lambda: [randn(2, 3, 4)]),
        Case("t.basic", lambda x: x.t(), lambda: [randn(3, 4)]),
        Case("narrow.basic", lambda x: x.narrow(1, 1, 2), lambda: [randn(3, 4)]),
        Case("slice.step", lambda x: x[:, 1:5:2], lambda: [randn(3, 6)]),
        Case("slice.negative", lambda x: x[-2:], lambda: [randn(4, 3)]),
        Case("select.basic", lambda x: x.select(1, 2), lambda: [randn(3, 4)]),
        Case("select.negative", lambda x: x.select(0, -1), lambda: [randn(3, 4)]),
        Case("unbind.dim1", lambda x: torch.unbind(x, 1), lambda: [randn(3, 4, 2)]),
        Case("unbind.last", lambda x: torch.unbind(x, -1), lambda: [randn(2, 3)]),
        Case("expand.basic", lambda x: x.expand(2, 3, 4), lambda: [randn(3, 1)]),
        Case("squeeze.all", lambda x: x.squeeze(), lambda: [randn(1, 3, 1, 2)]),
        Case("squeeze.dim", lambda x: x.squeeze(2), lambda: [randn(1, 3, 1, 2)]),
        Case("unsqueeze.basic", lambda x: x.unsqueeze(1), lambda: [randn(3, 4)]),
        Case("unsqueeze.negative", lambda x: x.unsqueeze(-1), lambda: [randn(3, 4)]),
        Case("flatten.basic", lambda x: x.flatten(1), lambda: [randn(2, 3, 2)]),
        Case("contiguous.transposed", lambda x: x.t().contiguous(), lambda: [randn(3, 4)]),
        Case("clone.basic", lambda x: x.clone() * 2, lambda: [randn(3, 4)]),
        Case("to.f64", lambda x: x.to(torch.float64) * 2, lambda: [randn(3, 4)], gradcheck=False),
        Case("chain.views", lambda x: x.t()[1:3].unsqueeze(0).expand(2, 2, 3) * 1.5, lambda: [randn(3, 4)]),
    ]
