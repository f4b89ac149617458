// View ops (share storage with their input) and copies: the free-function forms of
// Tensor::view, reshape, permute, ... Their backward formulas are in ops/view.cpp.
#pragma once

#include "core/tensor.h"

namespace kiln {

Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const IntList& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
// Every index of `dim` as a view without that dim (torch.unbind); one autograd node, whose
// backward stacks the gradients of all the pieces at once.
TensorList unbind(const Tensor& x, int64_t dim = 0);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
// A view with explicit sizes/strides/offset into x's storage (no checks against the
// storage size beyond bounds; differentiable).
Tensor as_strided(const Tensor& x, const Shape& sizes, const IntList& strides, int64_t offset);

// Sums g over the dims that broadcasting added or expanded, so that it has `shape`:
// the backward of broadcasting. Differentiable.
Tensor sum_to(const Tensor& g, const Shape& shape);

// Copies src (broadcast to dst's shape, converted to dst's dtype) into dst, which may
// be any strided tensor; no autograd (callers use Tensor::copy_).
void copy_into(const Tensor& dst, const Tensor& src);

}  // namespace kiln
