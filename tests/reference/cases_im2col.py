"""Reference cases for im2col / col2im (ops/im2col.h) against torch.nn.functional.unfold
and fold: stride, padding, dilation and a non-square kernel. The kiln side is
tests/ops/im2col_test.cpp, whose table repeats each case's geometry."""
import torch
import torch.nn.functional as F

from refcase import Case, randn

f64 = torch.float64


def cases():
    return [
        Case("im2col.basic", lambda x: F.unfold(x, (2, 2)), lambda: [randn(1, 2, 4, 4)]),
        Case("im2col.stride_padding", lambda x: F.unfold(x, (3, 3), padding=1, stride=2), lambda: [randn(2, 1, 4, 5)]),
        Case("im2col.dilation_rect", lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=(1, 0)),
             lambda: [randn(1, 2, 5, 4)]),
        Case("im2col.f64_all", lambda x: F.unfold(x, (3, 2), dilation=(1, 2), padding=(1, 2), stride=(2, 1)),
             lambda: [randn(1, 1, 5, 5, dtype=f64)]),
        Case("col2im.basic", lambda c: F.fold(c, (4, 4), (2, 2)), lambda: [randn(1, 8, 9)]),
        Case("col2im.stride_padding", lambda c: F.fold(c, (4, 5), (3, 3), padding=1, stride=2),
             lambda: [randn(1, 9, 6)]),
        Case("col2im.dilation_rect", lambda c: F.fold(c, (5, 4), (2, 3), dilation=(2, 1), padding=(1, 0)),
             lambda: [randn(1, 6, 10)]),
        Case("col2im.f64_all", lambda c: F.fold(c, (4, 3), (3, 2), dilation=(1, 2), padding=(1, 2), stride=(2, 1)),
             lambda: [randn(1, 6, 10, dtype=f64)]),
    ]
