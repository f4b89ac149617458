// Matrix products. matmul follows PyTorch's rules (1-D vectors, 2-D matrices, batched
// with broadcast batch dims); all lower to the GEMM in ops/cpu/gemm.cpp.
#pragma once

#include "core/tensor.h"

namespace kiln {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);    // (n, k) @ (k, m)
Tensor bmm(const Tensor& a, const Tensor& b);   // (B, n, k) @ (B, k, m)
Tensor mv(const Tensor& a, const Tensor& v);     // (n, k) @ (k)
Tensor dot(const Tensor& a, const Tensor& b);   // (k) . (k), 0-d
Tensor outer(const Tensor& a, const Tensor& b); // (n) x (m) -> (n, m)
// beta * bias + alpha * (a @ b), bias broadcast to (n, m): the Linear layer's op.
Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b, double beta = 1.0, double alpha = 1.0);

}  // namespace kiln
