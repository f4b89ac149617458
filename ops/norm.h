// Normalisation ops with fused kernels: layer norm's statistics, normalisation and
// affine map in one pass per row forward, and its three gradients in one pass backward.
#pragma once

#include "core/tensor.h"

namespace kiln {

// Layer norm over the last `normalized_dims` dims of x: y = (x - mean) / sqrt(var + eps)
// * weight + bias, the biased variance over those dims; weight and bias (the normalized
// shape) may be undefined. Under create_graph the backward is written with kiln ops, so
// it can be differentiated again. nn::functional::layer_norm checks the shapes and calls it.
Tensor native_layer_norm(const Tensor& x, int64_t normalized_dims, const Tensor& weight, const Tensor& bias,
                         double eps);

}  // namespace kiln
