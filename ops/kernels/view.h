// The kernel contract of copy (with broadcasting and dtype conversion) and fill: each
// kernel's signature, the shapes and layouts it receives, and its DispatchStub.
// ops/view.cpp defines the stubs and calls them; every device's kernels
// (ops/cpu/copy.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

KILN_DECLARE_STUB(copy_stub, void(const Tensor& dst, const Tensor& src));
KILN_DECLARE_STUB(fill_stub, void(const Tensor& dst, double value));

}  // namespace kiln
