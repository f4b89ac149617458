# Writes the conversion references of tests/core/half_test.cpp: float32 values chosen to
# hit every rounding case of float16 and bfloat16 (ties, the subnormal range, the
# overflow edge, signed zeros, inf, NaN) and random ones over the whole exponent range,
# with torch's conversions of them. Files (data/half/):
#   src_f4.npy      the float32 inputs
#   to_f16.npy      torch .to(float16), as numpy float16
#   to_bf16_bits.npy torch .to(bfloat16) as raw 16-bit patterns (uint16; numpy has no bfloat16)
#   f16_all_f4.npy  every one of the 65536 float16 bit patterns widened to float32 by torch
# Run: /usr/bin/python3 tests/reference/gen_half.py   (torch 1.13, numpy 1.24)
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "half")


def special_values():
    v = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan,
         65504.0, 65519.99, 65520.0, 65536.0, -65520.0, 1e10,
         2.0 ** -14, 2.0 ** -15, 2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -26, 1e-30,
         3.0 * 2.0 ** -25, 5.0 * 2.0 ** -25,  # subnormal ties
         3.4028235e38, -3.4028235e38, 1.1754944e-38, 1e-45]
    # float16 ties: halfway between neighbours with an even and with an odd low bit.
    for base in [1.0, 1.0 + 2.0 ** -10, 1024.0, 3.0, 0.00048828125]:
        ulp = np.spacing(np.float16(base)).astype(np.float64)
        v += [base + ulp / 2, base + ulp / 2 * 1.0000001, base + ulp / 2 * 0.9999999, -(base + ulp / 2)]
    # bfloat16 ties: 8 bits of mantissa.
    for base in [1.0, 1.0 + 2.0 ** -7, 3.0e38, 1e-38]:
        ulp = base * 2.0 ** -7
        v += [base + ulp / 2, -(base + ulp / 2), base + ulp / 2 * 1.000001]
    return np.array(v, dtype=np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    random_bits = rng.integers(0, 2 ** 32, size=4000, dtype=np.uint64).astype(np.uint32)
    in_range = (rng.standard_normal(3000) * np.exp2(rng.uniform(-30, 17, 3000))).astype(np.float32)
    src = np.concatenate([special_values(), random_bits.view(np.float32), in_range])
    t = torch.from_numpy(src)
    np.save(os.path.join(OUT, "src_f4.npy"), src)
    np.save(os.path.join(OUT, "to_f16.npy"), t.to(torch.float16).numpy())
    np.save(os.path.join(OUT, "to_bf16_bits.npy"), t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))
    every = torch.from_numpy(np.arange(65536, dtype=np.uint16).view(np.int16).copy()).view(torch.float16)
    np.save(os.path.join(OUT, "f16_all_f4.npy"), every.to(torch.float32).numpy())


if __name__ == "__main__":
    main()
