#!/usr/bin/env python3
"""Regenerates tests/reference/data/optim.txt: PyTorch's optimizer trajectories, learning-rate
schedules and gradient clipping results, read by tests/nn/optim_test.cpp.

    /usr/bin/python3 tests/reference/gen_optim.py

The problem every optimizer case runs: two float64 parameters p0 (3, 4) and p1 (4), two
constants c0 (3, 4) and c1 (4), and the loss

    loss = sum(sin(p0) * c0) + sum((p1 - c1)^2 * p1)

whose gradient torch computes at each of 6 steps (zero_grad, backward, step). The optimizers
run their single-tensor (for-loop) implementation (foreach=False).

File format: one record per line, tokens separated by spaces, '#' lines are comments.
Numbers are Python reprs (exact for float64; "inf" for infinity).

    tensor <name> <ndim> <dims...> <values...>     the problem: p0, p1, c0, c1
    optim <case> <Optimizer> <key=value>... [| <key=value>...]
        an optimizer case: hyperparameters of group 0. Without '|' both p0 and p1 are in
        group 0; with '|', p0 is in group 0 and p1 in group 1, whose options are group 0's
        overridden by the keys after '|' (PyTorch's add_param_group). Booleans are 0/1,
        betas are beta1=, beta2=.
    after <step> <param> <values...>                params after step 1..6 of the last optim
    sched <case> <Scheduler> <key=value>...        a scheduler on SGD with two groups (lr 0.1
        and 0.05); lists are comma separated (milestones=3,8). OneCycleLR runs with
        cycle_momentum=False (kiln does not cycle momentum).
    lrs <group> <values...>                         get_last_lr() after construction and
                                                    after each of the steps
    clip <case> <kind> <key=value>...               kind norm (clip_grad_norm_) or value
                                                    (clip_grad_value_) on grads g0, g1
    total <value>                                   clip_grad_norm_'s returned total norm
    grad <param> <values...>                        the grads after clipping
"""
import math
import pathlib

import torch

HERE = pathlib.Path(__file__).resolve().parent
STEPS = 6
SCHED_STEPS = 30


def fmt(x):
    return repr(float(x))


def tensor_line(name, t):
    t = t.detach()
    return " ".join(["tensor", name, str(t.dim())] + [str(d) for d in t.shape] +
                    [fmt(v) for v in t.reshape(-1).tolist()])


def values(t):
    return " ".join(fmt(v) for v in t.detach().reshape(-1).tolist())


def problem():
    g = torch.Generator().manual_seed(0)
    p0 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    p1 = torch.rand(4, generator=g, dtype=torch.float64) + 0.5
    c0 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    c1 = torch.randn(4, generator=g, dtype=torch.float64) * 0.5
    return p0, p1, c0, c1


def loss_fn(p0, p1, c0, c1):
    return (torch.sin(p0) * c0).sum() + ((p1 - c1) ** 2 * p1).sum()


# (case name, optimizer, group-0 options, group-1 overrides or None)
OPTIM_CASES = [
    ("sgd", "SGD", dict(lr=0.05), None),
    ("sgd_momentum", "SGD", dict(lr=0.02, momentum=0.9), None),
    ("sgd_dampening", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.5), None),
    ("sgd_nesterov", "SGD", dict(lr=0.02, momentum=0.9, nesterov=True), None),
    ("sgd_weight_decay", "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1), None),
    ("sgd_maximize", "SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True), None),
    ("sgd_groups", "SGD", dict(lr=0.02, momentum=0.9), dict(lr=0.05)),
    ("adam", "Adam", dict(lr=0.05), None),
    ("adam_weight_decay", "Adam", dict(lr=0.05, weight_decay=0.1), None),
    ("adam_betas_eps", "Adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3), None),
    ("adam_amsgrad", "Adam", dict(lr=0.05, betas=(0.9, 0.5), amsgrad=True), None),
    ("adam_maximize", "Adam", dict(lr=0.05, maximize=True), None),
    ("adam_groups", "Adam", dict(lr=0.05), dict(lr=0.01, weight_decay=0.1)),
    ("adamw", "AdamW", dict(lr=0.05), None),
    ("adamw_weight_decay_amsgrad", "AdamW", dict(lr=0.05, betas=(0.9, 0.5), weight_decay=0.1, amsgrad=True), None),
    ("adamw_maximize", "AdamW", dict(lr=0.05, maximize=True), None),
    ("rmsprop", "RMSprop", dict(), None),
    ("rmsprop_momentum", "RMSprop", dict(lr=0.01, momentum=0.9), None),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, alpha=0.9, centered=True), None),
    ("rmsprop_centered_momentum_wd", "RMSprop",
     dict(lr=0.01, alpha=0.95, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.1), None),
    ("rmsprop_maximize", "RMSprop", dict(lr=0.01, maximize=True), None),
    ("adagrad", "Adagrad", dict(lr=0.1), None),
    ("adagrad_all", "Adagrad",
     dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-8), None),
    ("adagrad_maximize", "Adagrad", dict(lr=0.1, maximize=True), None),
]


def option_tokens(opts):
    out = []
    for k, v in opts.items():
        if k == "betas":
            out += [f"beta1={fmt(v[0])}", f"beta2={fmt(v[1])}"]
        elif isinstance(v, bool):
            out.append(f"{k}={int(v)}")
        else:
            out.append(f"{k}={fmt(v)}")
    return out


def run_optim(name, opt_name, opts, group1, prob):
    p0 = prob[0].clone().requires_grad_(True)
    p1 = prob[1].clone().requires_grad_(True)
    c0, c1 = prob[2], prob[3]
    cls = getattr(torch.optim, opt_name)
    if group1 is None:
        opt = cls([p0, p1], foreach=False, **opts)
    else:
        opt = cls([p0], foreach=False, **opts)
        opt.add_param_group(dict(params=[p1], **group1))
    line = ["optim", name, opt_name] + option_tokens(opts)
    if group1 is not None:
        line += ["|"] + option_tokens(group1)
    lines = [" ".join(line)]
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        loss_fn(p0, p1, c0, c1).backward()
        opt.step()
        lines.append(f"after {step} p0 {values(p0)}")
        lines.append(f"after {step} p1 {values(p1)}")
    return lines


SCHED_CASES = [
    ("step", "StepLR", dict(step_size=7, gamma=0.5)),
    ("multistep", "MultiStepLR", dict(milestones=[3, 8, 8, 15], gamma=0.3)),
    ("exponential", "ExponentialLR", dict(gamma=0.9)),
    ("cosine_restart", "CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("cosine", "CosineAnnealingLR", dict(T_max=25)),
    ("onecycle_cos", "OneCycleLR", dict(max_lr=1.0, total_steps=30)),
    ("onecycle_linear", "OneCycleLR",
     dict(max_lr=[1.0, 0.5], total_steps=30, pct_start=0.25, anneal_strategy="linear", div_factor=10.0,
          final_div_factor=100.0)),
    ("onecycle_three_phase", "OneCycleLR", dict(max_lr=0.8, total_steps=30, three_phase=True)),
    ("linear_warmup", "LinearLR", dict(start_factor=0.25, total_iters=5)),
    ("linear_partial", "LinearLR", dict(start_factor=0.5, end_factor=0.9, total_iters=10)),
]


def sched_tokens(opts):
    out = []
    for k, v in opts.items():
        if isinstance(v, list):
            out.append(f"{k}=" + ",".join(str(x) for x in v))
        elif isinstance(v, bool):
            out.append(f"{k}={int(v)}")
        elif isinstance(v, str) or isinstance(v, int):
            out.append(f"{k}={v}")
        else:
            out.append(f"{k}={fmt(v)}")
    return out


def run_sched(name, sched_name, opts):
    w0 = torch.zeros(2, requires_grad=True)
    w1 = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([w0], lr=0.1)
    opt.add_param_group(dict(params=[w1], lr=0.05))
    kwargs = dict(opts)
    if sched_name == "OneCycleLR":
        kwargs["cycle_momentum"] = False
    sched = getattr(torch.optim.lr_scheduler, sched_name)(opt, **kwargs)
    lrs = [list(sched.get_last_lr())]
    for _ in range(SCHED_STEPS):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
    lines = [" ".join(["sched", name, sched_name] + sched_tokens(opts))]
    for g in range(2):
        lines.append(f"lrs {g} " + " ".join(fmt(step_lrs[g]) for step_lrs in lrs))
    return lines


CLIP_CASES = [
    ("norm2_clipped", "norm", dict(max_norm=1.0, norm_type=2.0)),
    ("norm2_unclipped", "norm", dict(max_norm=100.0, norm_type=2.0)),
    ("norm1", "norm", dict(max_norm=2.0, norm_type=1.0)),
    ("norm3", "norm", dict(max_norm=1.5, norm_type=3.0)),
    ("norm_inf", "norm", dict(max_norm=0.5, norm_type=math.inf)),
    ("value", "value", dict(clip_value=0.3)),
]


def run_clip(name, kind, opts):
    g = torch.Generator().manual_seed(1)
    p0 = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    p1 = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    p0.grad = torch.randn(3, 4, generator=g, dtype=torch.float64)
    p1.grad = torch.randn(4, generator=g, dtype=torch.float64) * 2.0
    lines = []
    if name == CLIP_CASES[0][0]:
        lines += [tensor_line("g0", p0.grad), tensor_line("g1", p1.grad)]
    lines.append(" ".join(["clip", name, kind] + [f"{k}={fmt(v)}" for k, v in opts.items()]))
    if kind == "norm":
        total = torch.nn.utils.clip_grad_norm_([p0, p1], **opts)
        lines.append(f"total {fmt(total)}")
    else:
        torch.nn.utils.clip_grad_value_([p0, p1], **opts)
    lines.append(f"grad p0 {values(p0.grad)}")
    lines.append(f"grad p1 {values(p1.grad)}")
    return lines


def main():
    torch.set_default_dtype(torch.float64)
    prob = problem()
    lines = [f"# generated by tests/reference/gen_optim.py with torch {torch.__version__}; do not edit",
             "# loss = sum(sin(p0) * c0) + sum((p1 - c1)^2 * p1); format described in gen_optim.py"]
    for name, t in zip(["p0", "p1", "c0", "c1"], prob):
        lines.append(tensor_line(name, t))
    for case in OPTIM_CASES:
        lines += run_optim(*case, prob)
    for case in SCHED_CASES:
        lines += run_sched(*case)
    for case in CLIP_CASES:
        lines += run_clip(*case)
    out = HERE / "data" / "optim.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({len(lines)} lines)")


if __name__ == "__main__":
    main()
