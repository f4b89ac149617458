// The kernel contract of the fused recurrent-cell ops (ops/rnn.cpp defines the stubs and
// calls them; every device's kernels, ops/cpu/rnn.cpp and cuda/, register against them).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "core/host_device.h"

namespace kiln {

// gates: (N, 4H) contiguous, c: (N, H) contiguous -> h, c_new, tanh_c: (N, H) and
// act: (N, 4H) (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)), all contiguous. act may
// be gates itself (lstm_recurrence activates its gate buffer in place): each element
// reads its four gates before it writes their activations. addend (N, 4H) and bias (4H),
// contiguous, may each be undefined: the pre-activations are then
// (addend + bias) + gates, the order of lstm_pointwise_preactivation below.
using LstmPointwiseKernel = void(const Tensor& h, const Tensor& c_new, const Tensor& act, const Tensor& tanh_c,
                                 const Tensor& gates, const Tensor& c, const Tensor& addend, const Tensor& bias);
KILN_DECLARE_STUB(lstm_pointwise_stub, LstmPointwiseKernel);
// dgates: (N, 4H), dc_prev: (N, H), written entirely; dh, dc: (N, H) or undefined (zero);
// act, tanh_c, c: as saved by the forward kernel. All contiguous. dc_prev may be dc
// itself (each element reads dc before writing dc_prev).
using LstmPointwiseBackwardKernel = void(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh,
                                         const Tensor& dc, const Tensor& act, const Tensor& tanh_c, const Tensor& c);
KILN_DECLARE_STUB(lstm_pointwise_backward_stub, LstmPointwiseBackwardKernel);

// Note [LSTM row bands]
// The rows of a batch never meet in a recurrence: row r of step t's gates is row r of
// h_{t-1} times w_hh^T plus row r of xproj, and the cell is elementwise; backward, row r
// of dh_t is dout[t][r] plus row r of the next step's gate gradients times w_hh. So
// lstm_recurrence runs its time loop once per band of rows, and a device decides how:
// lstm_row_bands_stub(device, rows, row_cost, body) calls body(r0, r1) on bands covering
// [0, rows). The CPU runs one band per thread, each thread going through all T steps on
// its own rows with no synchronisation between steps (the kernels body calls see they are
// inside a parallel region and stay on their thread); before, every step was two parallel
// regions (the GEMM's and the cell's), 4 T barriers a layer and step. row_cost, the
// multiply-adds one row costs over the whole loop, sets how few rows are worth a thread.
// CUDA calls body(0, rows) once: its kernels spread each step over the device.
using LstmRowBandsKernel = void(int64_t rows, int64_t row_cost, const std::function<void(int64_t, int64_t)>& body);
KILN_DECLARE_STUB(lstm_row_bands_stub, LstmRowBandsKernel);

// ---- the element formulas every device's kernel calls ----
// Element e of (N, H) reads and writes its four gates at base, base + H, base + 2H,
// base + 3H of the (N, 4H) tensors, base = (e / H) * 4H + e % H.

template <typename T>
KILN_HOST_DEVICE inline T lstm_sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// The pre-activation at index q of the (N, 4H) gates, column `col` of the 4H: gates[q],
// plus addend[q] and bias[col] where given (nullptr: none), added as lstm_recurrence's
// gates always were, (xproj + bias) + h w_hh^T.
template <typename T>
KILN_HOST_DEVICE KILN_ALWAYS_INLINE T lstm_pointwise_preactivation(const T* gates, const T* addend, const T* bias,
                                                                  int64_t q, int64_t col) {
  if (addend && bias) return (addend[q] + bias[col]) + gates[q];
  if (addend) return addend[q] + gates[q];
  if (bias) return bias[col] + gates[q];
  return gates[q];
}

// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c'); act keeps the four
// activations and tanh_c keeps tanh(c') for the backward. addend and bias may be nullptr.
template <typename T>
KILN_HOST_DEVICE inline void lstm_pointwise_element(int64_t e, int64_t hidden, T* h, T* c_new, T* act, T* tanh_c,
                                                    const T* gates, const T* c, const T* addend, const T* bias) {
  const int64_t base = (e / hidden) * 4 * hidden + e % hidden, j = e % hidden;
  const T i = lstm_sigmoid(lstm_pointwise_preactivation(gates, addend, bias, base, j));
  const T f = lstm_sigmoid(lstm_pointwise_preactivation(gates, addend, bias, base + hidden, hidden + j));
  const T g = std::tanh(lstm_pointwise_preactivation(gates, addend, bias, base + 2 * hidden, 2 * hidden + j));
  const T o = lstm_sigmoid(lstm_pointwise_preactivation(gates, addend, bias, base + 3 * hidden, 3 * hidden + j));
  const T cn = f * c[e] + i * g, tc = std::tanh(cn);
  act[base] = i;
  act[base + hidden] = f;
  act[base + 2 * hidden] = g;
  act[base + 3 * hidden] = o;
  c_new[e] = cn;
  tanh_c[e] = tc;
  h[e] = o * tc;
}

// dc_total = dc + dh * o * (1 - tanh(c')^2); dc_prev = dc_total * f;
// d(i, f, g, o pre-activations) = dc_total * g * i (1 - i), dc_total * c * f (1 - f),
//                                 dc_total * i * (1 - g^2),  dh * tanh(c') * o (1 - o).
// On one element's values: i, f, g, o the activations, tc = tanh(c'), c the cell input.
template <typename T>
KILN_HOST_DEVICE KILN_ALWAYS_INLINE void lstm_pointwise_backward_values(T i, T f, T g, T o, T tc, T c, T dh, T dc,
                                                                        T& di, T& df, T& dg, T& d_o, T& dc_prev) {
  const T dct = dc + dh * o * (T(1) - tc * tc);
  di = dct * g * i * (T(1) - i);
  df = dct * c * f * (T(1) - f);
  dg = dct * i * (T(1) - g * g);
  d_o = dh * tc * o * (T(1) - o);
  dc_prev = dct * f;
}

// The same on element e of (N, H); dh, dc: nullptr for a zero gradient.
template <typename T>
KILN_HOST_DEVICE inline void lstm_pointwise_backward_element(int64_t e, int64_t hidden, T* dgates, T* dc_prev,
                                                             const T* dh, const T* dc, const T* act, const T* tanh_c,
                                                             const T* c) {
  const int64_t base = (e / hidden) * 4 * hidden + e % hidden;
  lstm_pointwise_backward_values(act[base], act[base + hidden], act[base + 2 * hidden], act[base + 3 * hidden],
                                 tanh_c[e], c[e], dh ? dh[e] : T(0), dc ? dc[e] : T(0), dgates[base],
                                 dgates[base + hidden], dgates[base + 2 * hidden], dgates[base + 3 * hidden],
                                 dc_prev[e]);
}

}  // namespace kiln
