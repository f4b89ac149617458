// The kernel contract of the indexing ops (index_select, gather, scatter, pad, embedding,
// one_hot, tril/triu): each kernel's signature, the shapes and layouts it receives, and
// its DispatchStub. ops/index.cpp defines the stubs and calls them; every device's
// kernels (ops/cpu/index.cpp, cuda/) register against them.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// out: (outer, n, inner), x: (outer, size, inner) contiguous, index: (n) contiguous.
KILN_DECLARE_STUB(index_select_stub, void(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index));
// out: (outer, size, inner) contiguous, updated in place; src: (outer, n, inner); index: (n).
KILN_DECLARE_STUB(index_add_stub, void(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src));
// out: index's shape; x: same ndim as index; index contiguous.
KILN_DECLARE_STUB(gather_stub, void(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index));
// out: contiguous, updated in place; index contiguous; src at least index's size in every dim.
KILN_DECLARE_STUB(scatter_add_stub, void(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src));
// x: (B, in...) contiguous, out: (B, out...); pad_before[d] for each of the k padded last dims.
KILN_DECLARE_STUB(reflect_pad_stub, void(const Tensor& out, const Tensor& x, const IntList& pad_before));
// dx: (B, in...) zero-filled on entry; g: (B, out...) contiguous.
KILN_DECLARE_STUB(reflect_pad_backward_stub, void(const Tensor& dx, const Tensor& g, const IntList& pad_before));
// out: (n, D), weight: (V, D) contiguous, indices: n values, contiguous.
KILN_DECLARE_STUB(embedding_stub, void(const Tensor& out, const Tensor& weight, const Tensor& indices));
// dweight: (V, D) zero-filled on entry; g: (n, D) contiguous; indices: n values.
KILN_DECLARE_STUB(embedding_backward_stub,
                  void(const Tensor& dweight, const Tensor& g, const Tensor& indices, int64_t padding_idx));
// out: (n, C) int64 zero-filled on entry; indices: n values in [0, C).
KILN_DECLARE_STUB(one_hot_stub, void(const Tensor& out, const Tensor& indices));
// out, x: (B, R, C), x contiguous.
KILN_DECLARE_STUB(tril_stub, void(const Tensor& out, const Tensor& x, int64_t diagonal));
KILN_DECLARE_STUB(triu_stub, void(const Tensor& out, const Tensor& x, int64_t diagonal));

}  // namespace kiln
