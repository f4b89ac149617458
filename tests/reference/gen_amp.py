"""Reference values for kiln's 16-bit arithmetic and autocast (tests/ops/half_ops_test.cpp,
tests/core/autocast_test.cpp), from torch 1.13 on the CPU.

bfloat16 results are torch's own bfloat16 CPU kernels; float16 results are the float32
op on the float16 inputs rounded once with .half(), which is the semantics of a CPU
float16 kernel (compute in float32, round the result). Every array is saved as float32
(16-bit values are exact in it). Run with /usr/bin/python3 from the repository root.
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "amp")


def save(name, t):
    np.save(os.path.join(OUT, name + ".npy"), t.detach().float().numpy().astype(np.float32))


def ops(a, b, c):
    """The elementwise, reduction and product cases, on tensors of one dtype."""
    return {
        "add": a + b,
        "sub": a - b,
        "mul": a * b,
        "div": a / b,
        "neg": -a,
        "relu": torch.relu(a),
        "exp": torch.exp(a),
        "log": torch.log(b),
        "sigmoid": torch.sigmoid(a),
        "tanh": torch.tanh(a),
        "sqrt": torch.sqrt(b),
        "where": torch.where(a > 0, a, b),
        "sum_dim1": a.sum(1),
        "mean_dim0": a.mean(0),
        "mm": a @ c,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(6)
    a = torch.randn(5, 7, generator=g) * 3
    b = torch.rand(5, 7, generator=g) * 4 + 0.25  # positive: log, sqrt, a divisor
    c = torch.randn(7, 3, generator=g)
    save("a", a)
    save("b", b)
    save("c", c)

    # bfloat16: torch's kernels themselves, except mm: torch 1.13's CPU bfloat16 GEMM
    # rounds partial results to bfloat16 (up to 0.125 off on these values), so its
    # reference is the float32 product of the rounded inputs, rounded once.
    for name, t in ops(a.bfloat16(), b.bfloat16(), c.bfloat16()).items():
        assert t.dtype == torch.bfloat16, name
        save("bf16_" + name, t)
    save("bf16_mm", (a.bfloat16().float() @ c.bfloat16().float()).bfloat16())
    # float16: float32 on the rounded inputs, one rounding.
    a16, b16, c16 = a.half().float(), b.half().float(), c.half().float()
    for name, t in ops(a16, b16, c16).items():
        save("f16_" + name, t.half())

    # Autocast on the CPU (bfloat16): a two-layer MLP's forward, loss and gradients.
    x = torch.randn(16, 4, generator=g)
    y = torch.randint(0, 3, (16,), generator=g)
    w1 = (torch.randn(8, 4, generator=g) * 0.5).requires_grad_()
    b1 = (torch.randn(8, generator=g) * 0.1).requires_grad_()
    w2 = (torch.randn(3, 8, generator=g) * 0.5).requires_grad_()
    b2 = (torch.randn(3, generator=g) * 0.1).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = torch.relu(torch.nn.functional.linear(x, w1, b1))
        logits = torch.nn.functional.linear(h, w2, b2)
        loss = torch.nn.functional.cross_entropy(logits, y)
    assert h.dtype == torch.bfloat16 and logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    (loss * 1024.0).backward()
    for name, t in {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2, "logits": logits, "loss": loss}.items():
        save("mlp_" + name, t)
    np.save(os.path.join(OUT, "mlp_y.npy"), y.numpy().astype(np.int64))
    for name, t in {"w1": w1, "b1": b1, "w2": w2, "b2": b2}.items():
        save("mlp_grad_" + name, t.grad / 1024.0)


if __name__ == "__main__":
    main()
