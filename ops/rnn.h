// The recurrent cells' pointwise parts, fused into one pass over the gates.
#pragma once

#include "core/tensor.h"

namespace kiln {

// The LSTM cell after its matrix products: gates (N, 4H) holds the pre-activations
// x W_ih^T + b_ih + h W_hh^T + b_hh in PyTorch's order i, f, g, o; c: (N, H).
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')
// Returns {h', c'}. Forward and backward are one pass each; under create_graph the
// backward is written with kiln ops instead, so it can be differentiated again.
TensorList lstm_cell_pointwise(const Tensor& gates, const Tensor& c);

}  // namespace kiln
