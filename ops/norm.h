// Normalisation ops with fused kernels: layer norm's statistics, normalisation and
// affine map in one pass per row forward, and its three gradients in one pass backward;
// batch norm's per-channel statistics in one pass, and its backward in two.
#pragma once

#include "core/tensor.h"

namespace kiln {

// Layer norm over the last `normalized_dims` dims of x: y = (x - mean) / sqrt(var + eps)
// * weight + bias, the biased variance over those dims; weight and bias (the normalized
// shape) may be undefined. Under create_graph the backward is written with kiln ops, so
// it can be differentiated again. nn::functional::layer_norm checks the shapes and calls it.
Tensor native_layer_norm(const Tensor& x, int64_t normalized_dims, const Tensor& weight, const Tensor& bias,
                         double eps);

// Batch norm over dim 1 of x: (N, C, ...), float32 or float64. y = (x - mean) * invstd *
// weight + bias per channel, invstd = 1 / sqrt(var + eps); weight and bias (C) may be
// undefined. training: mean and the biased var are the batch's (over N and the spatial
// dims, which must hold more than one value per channel), and running_mean/running_var,
// when defined, are updated in place: r = (1 - momentum) r + momentum s, s the batch mean
// and the unbiased batch var. Otherwise the running statistics (required) are used and
// not changed; they are never differentiated. Under create_graph the backward is written
// with kiln ops, so it can be differentiated again. Per-channel tensors must be 1-D with
// C elements of x's dtype and device; nn::functional::batch_norm calls it on the CPU.
Tensor native_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, bool training, double momentum, double eps);

}  // namespace kiln
