#!/usr/bin/env python3
"""Fits the polynomial of expm1_reduced in ops/cpu/elementwise_vec.h and checks it.

The SIMD exp and tanh reduce their argument to r = x - n ln 2, |r| <= ln(2) / 2, and
need e^r - 1 there. They compute it as r + r^2 g(r): the leading r is added exactly by the
last FMA, and g approximates (e^r - 1 - r) / r^2, which is smooth and close to 1/2.
This script fits g with mpmath's Chebyshev approximation (near-minimax), rounds the
coefficients to float32 as the kernel holds them, and prints the worst relative error of
r + r^2 g(r) against e^r - 1 over the interval, measured in 40-digit arithmetic.

Needs mpmath (Debian: python3-mpmath). Usage: scripts/fit_exp_poly.py [degree]
"""
import struct
import sys

import mpmath as mp

mp.mp.dps = 40


def to_float32(v):
    return struct.unpack("f", struct.pack("f", float(v)))[0]


def g(r):
    return (mp.expm1(r) - r) / r**2 if r != 0 else mp.mpf(1) / 2


def main():
    degree = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    # A little past ln(2) / 2: round(x / ln 2) in float may land r just outside.
    half = mp.log(2) / 2 + mp.mpf("1e-4")
    coefficients = mp.chebyfit(g, [-half, half], degree + 1)  # highest power first
    rounded = [to_float32(c) for c in coefficients]
    worst = mp.mpf(0)
    for i in range(4001):
        r = -half + 2 * half * i / 4000
        if r == 0:
            continue
        q = r + r * r * mp.polyval([mp.mpf(c) for c in rounded], r)
        worst = max(worst, abs(q / mp.expm1(r) - 1))
    print(f"g of degree {degree}, coefficients from the highest power down (float32):")
    for c in rounded:
        print(f"  {c!r}f")
    print(f"worst relative error of r + r^2 g(r) on |r| <= {float(half):.6f}: {float(worst):.3g}")


if __name__ == "__main__":
    main()
