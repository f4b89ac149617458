// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_: both
// change the .grad of the given parameters in place (parameters without a grad are
// skipped). Implemented in nn/optim/clip.cpp.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace kiln::nn::optim {

// Returns the total norm of all grads viewed as one vector (norm_type > 0, or INFINITY
// for the max norm) and, when it is above max_norm, scales every grad by
// max_norm / (total + 1e-6). error_if_nonfinite: a NaN/Inf total is an error instead.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every grad element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace kiln::nn::optim
