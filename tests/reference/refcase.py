"""Reference cases for kiln's op tests: the Case record, input makers, and the writer of
the committed reference files (tests/reference/data/<family>.txt).

File format, one record per line, whitespace separated:
  case <name> [key=value ...]          flags: grad=0|1 gradcheck=0|1 gradgradcheck=0|1
                                       noncontig=0|1 rtol= atol=
  <kind> <index> <dtype> <ndim> <dims...> <values...>
        kind: input | output | gout (the gradient fed to output <index>) |
              grad (d/d input <index>) | nograd (input <index> gets no gradient)
  end
Floats are written with repr() (shortest round-trip form), so the files are exact.
"""
import zlib

import torch

DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64",
          torch.uint8: "uint8", torch.bool: "bool"}


class Case:
    """One reference case: `fn(*inputs)` returns a tensor or a tuple/list of tensors.

    inputs: a list of tensors, or better a function returning one (it is called after
    seeding torch with the case's own seed, so each case's data is stable).

    grad: also record gradients of every floating input (outputs get random gouts).
    gradcheck: kiln also runs a float64 gradcheck of the same op on these inputs.
    gradgradcheck: ... and a float64 gradgradcheck (its double backward).
    noncontig: kiln also runs the case with non-contiguous copies of the inputs.
    rtol/atol: tolerances for float32 comparisons (float64 uses 1e-10/1e-12).
    """

    def __init__(self, name, fn, inputs, grad=True, gradcheck=True, gradgradcheck=True, noncontig=True,
                 rtol=1e-4, atol=1e-5):
        self.name, self.fn, self.inputs = name, fn, inputs
        self.grad, self.gradcheck, self.noncontig = grad, gradcheck, noncontig
        self.gradgradcheck = gradgradcheck
        self.rtol, self.atol = rtol, atol


def seed_for(name):
    """A stable per-case seed, so adding a case does not change the others."""
    return zlib.crc32(name.encode())


# Input makers. They draw from the generator that gen_reference.py seeds per case.
def randn(*shape, dtype=torch.float32):
    return torch.randn(shape, dtype=dtype)


def rand(*shape, low=0.0, high=1.0, dtype=torch.float32):
    return torch.rand(shape, dtype=dtype) * (high - low) + low


def away_from_zero(*shape, margin=0.1, dtype=torch.float32):
    """Normal values pushed at least `margin` away from 0 (for kinks at 0: abs, relu)."""
    x = torch.randn(shape, dtype=dtype)
    return x + torch.sign(x) * margin + (x == 0) * margin


def distinct(*shape, dtype=torch.float32):
    """A random permutation of well-separated values (no ties: max, sort, median)."""
    n = 1
    for s in shape:
        n *= s
    return (torch.randperm(n).to(dtype) * 0.37 - n * 0.15).reshape(*shape)


def randint(low, high, *shape):
    return torch.randint(low, high, shape, dtype=torch.int64)


def _tensor_line(kind, index, t):
    t = t.detach().contiguous()
    dims = list(t.shape)
    flat = t.reshape(-1).tolist()
    if t.dtype == torch.bool:
        vals = ["1" if v else "0" for v in flat]
    elif t.dtype.is_floating_point:
        vals = [repr(float(v)) for v in flat]
    else:
        vals = [str(int(v)) for v in flat]
    return " ".join([kind, str(index), DTYPES[t.dtype], str(len(dims))] + [str(d) for d in dims] + vals)


def run_case(case):
    torch.manual_seed(seed_for(case.name))
    inputs = case.inputs() if callable(case.inputs) else case.inputs
    torch.manual_seed(seed_for(case.name) + 1)
    ins = [x.detach().clone() for x in inputs]
    for x in ins:
        if case.grad and x.is_floating_point():
            x.requires_grad_(True)
    outs = case.fn(*ins)
    if isinstance(outs, torch.Tensor):
        outs = [outs]
    outs = list(outs)
    gc = case.gradcheck and case.grad
    flags = dict(grad=int(case.grad), gradcheck=int(gc), gradgradcheck=int(gc and case.gradgradcheck),
                 noncontig=int(case.noncontig), rtol=case.rtol, atol=case.atol)
    lines = ["case " + case.name + " " + " ".join(f"{k}={v}" for k, v in flags.items())]
    for i, x in enumerate(ins):
        lines.append(_tensor_line("input", i, x))
    for i, o in enumerate(outs):
        lines.append(_tensor_line("output", i, o))
    if case.grad:
        diff_outs = [(i, o) for i, o in enumerate(outs) if o.requires_grad]
        wrt = [(i, x) for i, x in enumerate(ins) if x.requires_grad]
        if diff_outs and wrt:
            gouts = [torch.randn(o.shape, dtype=o.dtype) for _, o in diff_outs]
            for (i, _), g in zip(diff_outs, gouts):
                lines.append(_tensor_line("gout", i, g))
            grads = torch.autograd.grad([o for _, o in diff_outs], [x for _, x in wrt], gouts, allow_unused=True)
            for (i, x), g in zip(wrt, grads):
                lines.append(_tensor_line("grad", i, g if g is not None else torch.zeros_like(x)))
    lines.append("end")
    return lines
