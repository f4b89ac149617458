// Reductions over any set of dims (empty = all dims), with keepdim; softmax and
// log_softmax. Forward and backward in ops/reduce.cpp, kernels in ops/cpu/reduce.cpp.
#pragma once

#include "core/tensor.h"

namespace kiln {

Tensor sum(const Tensor& x, const IntList& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const IntList& dims = {}, bool keepdim = false);
Tensor prod(const Tensor& x, const IntList& dims = {}, bool keepdim = false);
// Variance with Bessel's correction when unbiased (divides by N-1), as torch.var.
Tensor var(const Tensor& x, const IntList& dims = {}, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& x, const IntList& dims = {}, bool unbiased = true, bool keepdim = false);
// p-norm (p > 0; p = inf for the max norm) over dims.
Tensor norm(const Tensor& x, double p = 2.0, const IntList& dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const IntList& dims, bool keepdim = false);
// amax/amin: values over dims; the gradient is split equally among ties (as PyTorch).
Tensor amax(const Tensor& x, const IntList& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const IntList& dims = {}, bool keepdim = false);

// max/min along one dim: values (differentiable) and int64 indices of the first
// occurrence.
struct ValuesIndices {
  Tensor values;
  Tensor indices;
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements, 0-d
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x);  // flat index, 0-d
Tensor argmin(const Tensor& x);

// Bool reductions (no gradient).
Tensor all(const Tensor& x);
Tensor any(const Tensor& x);

// softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max) along dim, in one fused pass.
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace kiln
