// The kernel contract of the random ops (ops/random.cpp defines the stubs and calls
// them; every device's kernels, ops/cpu/random.cpp and cuda/, register against them).
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// x, out, mask: (n) contiguous, one floating dtype. mask[i] = 1 / (1 - p) when element
// i is kept, else 0; out = x * mask. The Philox blocks used start at `offset` for `seed`
// (float32: element i in block offset + i / 4, lane i % 4; float64: offset + i / 2).
using DropoutKernel = void(const Tensor& out, const Tensor& mask, const Tensor& x, double p, uint64_t seed,
                           uint64_t offset);
KILN_DECLARE_STUB(dropout_stub, DropoutKernel);

}  // namespace kiln
