#!/usr/bin/env python3
"""Regenerates tests/reference/data/ctc.txt: PyTorch's ctc_loss values and gradients, read by
tests/ops/ctc_test.cpp.

    /usr/bin/python3 tests/reference/gen_ctc.py

Every case runs log_probs = log_softmax(x, 2) on a leaf x of shape (T, N, C), then
loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction,
zero_infinity), and backpropagates gout (N random weights for reduction "none", 1 otherwise).
x is quantised to multiples of 1/64 (1/8 in the long case), so its values are exact in float32
and short to write.

File format: one record per line, tokens separated by spaces, '#' lines are comments.
Numbers are Python reprs ("inf", "nan" included); float32 results are written with 9
significant digits (enough to read them back exactly), the long case's grad_x with 6.

    case <name> <dtype> <T> <N> <C> <blank> <reduction> <zero_infinity 0/1> <targets: padded|concat>
    x <T*N*C values>                    the logits, (T, N, C) row-major
    targets <ndim> <dims...> <values...>
    input_lengths <N values>
    target_lengths <N values>
    loss <ndim> <dims...> <values...>   (N) for "none", 0-d otherwise
    gout <ndim> <dims...> <values...>   the gradient fed to backward, loss's shape
    grad_log_probs <T*N*C values>       d<loss, gout>/d log_probs (PyTorch's convention);
                                        left out for the long case, where it equals grad_x
The long case's loss and grad_x come from PyTorch in float64 on the same x (see build()).
    grad_x <T*N*C values>               d<loss, gout>/dx, through log_softmax
    end
"""
import pathlib

import torch
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def values(t, digits=9):
    if not t.dtype.is_floating_point:
        return " ".join(str(v) for v in t.reshape(-1).tolist())
    if t.dtype == torch.float32:
        return " ".join(repr(v) if v != v or abs(v) == float("inf") else "%.*g" % (digits, v)
                        for v in t.detach().reshape(-1).tolist())
    return " ".join(repr(float(v)) for v in t.detach().reshape(-1).tolist())


def shaped(t):
    return " ".join([str(t.dim())] + [str(d) for d in t.shape] + [values(t)])


def padded(labels, width=None):
    """Pads the label lists with 0 to a (N, S) tensor (S = the longest, or `width`)."""
    width = max([len(l) for l in labels] + [0]) if width is None else width
    return torch.tensor([l + [0] * (width - len(l)) for l in labels], dtype=torch.long).reshape(len(labels), width)


def concat(labels):
    return torch.tensor([v for l in labels for v in l], dtype=torch.long)


def random_labels(g, lengths, C, blank):
    """Random label lists of the given lengths over [0, C) without the blank."""
    classes = [c for c in range(C) if c != blank]
    return [[classes[int(i)] for i in torch.randint(len(classes), (n,), generator=g)] for n in lengths]


class Builder:
    def __init__(self):
        self.g = torch.Generator().manual_seed(1234)
        self.lines = []

    def case(self, name, dtype, T, C, labels, input_lengths, layout="padded", blank=0, reduction="mean",
             zero_infinity=False, scale=2.0, width=None, quantum=64, long=False):
        N = len(labels)
        x = torch.round(torch.randn(T, N, C, generator=self.g, dtype=torch.float64) * scale * quantum) / quantum
        x = x.to(DTYPES[dtype])
        # The long case's reference is PyTorch's float64 result on the same (float32) x:
        # PyTorch runs the float32 recursions in float32 and its gradients there are off by
        # up to 3e-6 (2% of the small ones); kiln's run in double.
        x = x.to(torch.float64 if long else x.dtype).requires_grad_()
        targets = padded(labels, width) if layout == "padded" else concat(labels)
        target_lengths = [len(l) for l in labels]
        log_probs = x.log_softmax(2)
        log_probs.retain_grad()
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank, reduction=reduction,
                          zero_infinity=zero_infinity)
        if reduction == "none":
            gout = torch.rand(N, generator=self.g, dtype=torch.float64).to(loss.dtype) + 0.5
        else:
            gout = torch.ones((), dtype=loss.dtype)
        loss.backward(gout)
        grad_x = x.grad
        if long:
            grad_x, loss, gout = grad_x.float(), loss.float(), gout.float()
        self.lines += [
            " ".join(["case", name, dtype, str(T), str(N), str(C), str(blank), reduction, str(int(zero_infinity)),
                      layout]),
            "x " + values(x.float() if long else x),
            "targets " + shaped(targets),
            "input_lengths " + " ".join(str(v) for v in input_lengths),
            "target_lengths " + " ".join(str(v) for v in target_lengths),
            "loss " + shaped(loss),
            "gout " + shaped(gout),
        ] + ([] if long else ["grad_log_probs " + values(log_probs.grad)]) + [
            "grad_x " + values(grad_x, 6 if long else 9),
            "end",
        ]


def build():
    b = Builder()
    g = b.g
    # Random batches with varied input and target lengths (one empty target), every
    # reduction, both target layouts and both dtypes.
    lengths = [3, 1, 0, 4]
    for dtype in ["float64", "float32"]:
        for layout in ["padded", "concat"]:
            for reduction in ["none", "sum", "mean"]:
                labels = random_labels(g, lengths, 6, 0)
                b.case(f"random_{layout}_{reduction}_{dtype}", dtype, 9, 6, labels, [9, 5, 7, 8], layout=layout,
                       reduction=reduction)
    # Repeated labels need a blank between equal neighbours: "aab", "aaaa", "abab", "abba".
    for dtype in ["float64", "float32"]:
        b.case(f"repeats_{dtype}", dtype, 8, 4, [[1, 1, 2], [1, 1, 1, 1], [1, 2, 1, 2], [3, 2, 2, 3]],
               [8, 7, 8, 8], reduction="none")
    # Targets as long as the input allows: S = T without repeats (a single alignment),
    # and "aaaa" needing exactly 7 frames.
    b.case("longest_target_no_repeats", "float64", 5, 6, [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]], [5, 5],
           reduction="none")
    b.case("longest_target_repeats", "float64", 7, 3, [[2, 2, 2, 2]], [7], reduction="none")
    # Impossible alignments: the target needs more frames than the input has.
    for zero_infinity in [False, True]:
        for reduction in ["none", "mean", "sum"]:
            b.case(f"impossible_{reduction}_zinf{int(zero_infinity)}", "float64", 6, 4,
                   [[1, 1, 1, 1], [1, 2], [2, 3, 1, 3, 2, 1, 3]], [6, 6, 6], reduction=reduction,
                   zero_infinity=zero_infinity)
    b.case("impossible_float32_zinf1", "float32", 5, 4, [[3, 3, 3], [1, 2]], [5, 4], layout="concat",
           reduction="mean", zero_infinity=True)
    # blank != 0: the last class, and one in the middle.
    b.case("blank_last", "float64", 7, 5, random_labels(g, [3, 2], 5, 4), [7, 6], blank=4, reduction="none")
    b.case("blank_middle_concat", "float32", 8, 5, random_labels(g, [4, 2, 3], 5, 2), [8, 8, 6], blank=2,
           layout="concat", reduction="mean")
    # Padded targets wider than any target length (the padding is never read).
    b.case("padded_wide", "float64", 6, 5, [[1, 2], [3]], [6, 4], reduction="sum", width=5)
    # A long sequence: products of 500 probabilities underflow in any precision, the
    # log-space recursions stay finite.
    long_labels = random_labels(g, [150], 20, 0)
    long_labels[0][10:14] = [7, 7, 7, 7]
    b.case("long_T500_C20_float32", "float32", 500, 20, long_labels, [500], reduction="mean", scale=1.0,
           quantum=8, long=True)
    return b.lines


def main():
    lines = ["# ctc_loss references from PyTorch " + torch.__version__ + "; regenerate with "
             "/usr/bin/python3 tests/reference/gen_ctc.py (the format is documented there)"] + build()
    (HERE / "data" / "ctc.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
