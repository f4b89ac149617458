// Internal to the LSTM cell kernels (ops/cpu/rnn.cpp): the backward's row loop, written
// once here and compiled three times, by rnn.cpp for any x86-64 CPU and by
// rnn_avx512.cpp / rnn_avx2.cpp with those ISAs' flags, the way the optimizer loops are
// (Note [Optimizer loops per ISA] in ops/cpu/optim_loops.h: unnamed namespace, element
// formula forced inline, so no wide copy can reach the generic path).
#pragma once

#include <cstdint>

#include "ops/kernels/rnn.h"

namespace kiln::cpu {

// One row (batch entry) of the backward: the four gate gradients and dc_prev for every
// hidden unit; dh / dc nullptr when that gradient is zero.
template <typename T>
using LstmBackwardRow = void (*)(int64_t hidden, const T* a, const T* tc, const T* c, const T* dh, const T* dc,
                                 T* dgates, T* dc_prev);

// The row loop for each combination of present gradients, indexed by dh * 2 + dc.
template <typename T>
struct LstmBackwardRows {
  LstmBackwardRow<T> row[4];
};

namespace {

// Whether dh and dc exist is fixed per instantiation and no pointer can alias another,
// so the loop has no branch and the compiler vectorises it (with the branches and
// possible aliasing inside, it ran one element at a time: 10% of an LSTM training step).
template <typename T, bool kDh, bool kDc>
void lstm_backward_row(int64_t hidden, const T* __restrict a, const T* __restrict tc, const T* __restrict cr,
                       const T* __restrict dh, const T* __restrict dc, T* __restrict dg, T* __restrict dc_prev) {
  for (int64_t j = 0; j < hidden; ++j) {
    T di, df, dgg, d_o, dcp;
    lstm_pointwise_backward_values(a[j], a[hidden + j], a[2 * hidden + j], a[3 * hidden + j], tc[j], cr[j],
                                   kDh ? dh[j] : T(0), kDc ? dc[j] : T(0), di, df, dgg, d_o, dcp);
    dg[j] = di;
    dg[hidden + j] = df;
    dg[2 * hidden + j] = dgg;
    dg[3 * hidden + j] = d_o;
    dc_prev[j] = dcp;
  }
}

template <typename T>
LstmBackwardRows<T> make_lstm_backward_rows() {
  return {{&lstm_backward_row<T, false, false>, &lstm_backward_row<T, false, true>, &lstm_backward_row<T, true, false>,
           &lstm_backward_row<T, true, true>}};
}

}  // namespace

// float32 loops compiled with AVX-512 and with AVX2 (rnn_avx512.cpp, rnn_avx2.cpp).
const LstmBackwardRows<float>& lstm_backward_rows_avx512();
const LstmBackwardRows<float>& lstm_backward_rows_avx2();

}  // namespace kiln::cpu
