// The LSTM backward row loop of ops/cpu/rnn_loops.h compiled with AVX-512 (this file's -m
// flags come from its name, CMakeLists.txt), float32 only; ops/cpu/rnn.cpp enters it
// only when active_isa() is Avx512.
#include "ops/cpu/rnn_loops.h"

namespace kiln::cpu {

const LstmBackwardRows<float>& lstm_backward_rows_avx512() {
  static const LstmBackwardRows<float> rows = make_lstm_backward_rows<float>();
  return rows;
}

}  // namespace kiln::cpu
