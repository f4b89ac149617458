// The recurrent cells' pointwise parts, fused into one pass over the gates, and the
// LSTM recurrence over a whole sequence as one op (what nn/rnn.cpp's layers run).
#pragma once

#include "core/tensor.h"

namespace kiln {

// The LSTM cell after its matrix products: gates (N, 4H) holds the pre-activations
// x W_ih^T + b_ih + h W_hh^T + b_hh in PyTorch's order i, f, g, o; c: (N, H).
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')
// Returns {h', c'}. Forward and backward are one pass each; under create_graph the
// backward is written with kiln ops instead, so it can be differentiated again.
TensorList lstm_cell_pointwise(const Tensor& gates, const Tensor& c);

// One direction of one LSTM layer over a whole sequence, after its input projection:
// xproj: (T, N, 4H), x_t W_ih^T for every step (T >= 1); h0, c0: (N, H); w_hh: (4H, H);
// bias: (4H), b_ih + b_hh, or undefined for none. Steps t = 0 .. T-1, or T-1 .. 0 when
// `reverse`, each
//   [i f g o] = xproj[t] + bias + h w_hh^T,  then lstm_cell_pointwise's c' and h'
// starting from (h0, c0). Returns {output (T, N, H) with output[t] = the h' of step t
// (in time order either way), h of the last step run, c of the last step run}.
// One autograd node: its backward walks the steps in reverse into one (T, N, 4H) buffer
// of gate gradients, which is d xproj itself (d bias its sum over T and N), and forms
// d w_hh with one GEMM over the (T - 1) * N rows whose previous h is in `output` plus
// one for h0. Under create_graph the backward is the per-step composition written with
// kiln ops, so it can be differentiated again.
TensorList lstm_recurrence(const Tensor& xproj, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                           const Tensor& bias = {}, bool reverse = false);

}  // namespace kiln
