"""Reference cases for ops/unary.h. Inputs avoid each op's kinks and poles."""
import torch
import torch.nn.functional as F

from refcase import Case, away_from_zero, rand, randn


def cases():
    return [
        Case("neg.basic", torch.neg, lambda: [randn(3, 4)]),
        Case("exp.basic", torch.exp, lambda: [randn(3, 4)]),
        Case("exp.f64", torch.exp, lambda: [randn(2, 5, dtype=torch.float64)]),
        Case("log.basic", torch.log, lambda: [rand(3, 4, low=0.2, high=3.0)]),
        Case("log1p.basic", torch.log1p, lambda: [rand(3, 4, low=-0.5, high=3.0)]),
        Case("sqrt.basic", torch.sqrt, lambda: [rand(3, 4, low=0.2, high=4.0)]),
        Case("rsqrt.basic", torch.rsqrt, lambda: [rand(3, 4, low=0.2, high=4.0)]),
        Case("abs.basic", torch.abs, lambda: [away_from_zero(3, 4)]),
        Case("sign.basic", torch.sign, lambda: [away_from_zero(3, 4)], grad=False),
        Case("sin.basic", torch.sin, lambda: [randn(3, 4)]),
        Case("cos.basic", torch.cos, lambda: [randn(3, 4)]),
        Case("erf.basic", torch.erf, lambda: [randn(3, 4)]),
        Case("pow.cube", lambda x: torch.pow(x, 3.0), lambda: [randn(3, 4)]),
        Case("pow.half", lambda x: torch.pow(x, 0.5), lambda: [rand(3, 4, low=0.2, high=3.0)]),
        Case("pow.square", lambda x: torch.pow(x, 2.0), lambda: [randn(3, 4)]),
        Case("square.basic", torch.square, lambda: [randn(3, 4)]),
        Case("clamp.both", lambda x: torch.clamp(x, -0.5, 0.5), lambda: [away_from_zero(4, 5, margin=0.05) * 1.3]),
        Case("clamp_min.basic", lambda x: torch.clamp(x, min=0.25), lambda: [randn(4, 5) + 0.013]),
        Case("clamp_max.basic", lambda x: torch.clamp(x, max=-0.25), lambda: [randn(4, 5) + 0.013]),
        Case("relu.basic", torch.relu, lambda: [away_from_zero(3, 4)]),
        Case("leaky_relu.basic", lambda x: F.leaky_relu(x, 0.2), lambda: [away_from_zero(3, 4)]),
        Case("elu.basic", lambda x: F.elu(x, 1.5), lambda: [away_from_zero(3, 4)]),
        Case("gelu.exact", F.gelu, lambda: [randn(3, 4) * 2]),
        Case("gelu.tanh", lambda x: F.gelu(x, approximate="tanh"), lambda: [randn(3, 4) * 2]),
        Case("silu.basic", F.silu, lambda: [randn(3, 4) * 2]),
        Case("sigmoid.basic", torch.sigmoid, lambda: [randn(3, 4) * 3]),
        Case("sigmoid.f64", torch.sigmoid, lambda: [randn(2, 3, 2, dtype=torch.float64) * 3]),
        Case("tanh.basic", torch.tanh, lambda: [randn(3, 4) * 2]),
        Case("softplus.basic", F.softplus, lambda: [randn(3, 4) * 3]),
        Case("softplus.beta_threshold", lambda x: F.softplus(x, beta=2.0, threshold=3.0),
             lambda: [away_from_zero(4, 5) * 2 + 0.011]),
        Case("isfinite.basic", torch.isfinite,
             lambda: [torch.tensor([1.0, float("inf"), float("-inf"), float("nan"), 0.0, -2.5])], grad=False),
        Case("isnan.basic", torch.isnan, lambda: [torch.tensor([1.0, float("inf"), float("nan"), 0.0])], grad=False),
        Case("logical_not.basic", torch.logical_not, lambda: [torch.tensor([True, False, True])], grad=False),
        Case("exp.scalar0d", torch.exp, lambda: [randn()]),
        Case("tanh.size1dims", torch.tanh, lambda: [randn(1, 3, 1)]),
    ]
