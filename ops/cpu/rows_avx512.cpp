// The float32 row and channel loops (ops/cpu/rows_loops.h) built for AVX512: this file gets
// its -m flags from CMakeLists.txt and is entered only on a CPU that has them
// (ops/cpu/rows_simd.cpp). See Note [SIMD row kernels] in ops/cpu/rows_simd.h.
#include "ops/cpu/rows_loops.h"
#include "ops/cpu/rows_simd.h"

namespace kiln::cpu {

const RowKernels& row_kernels_avx512() {
  static const RowKernels kernels = {
      "avx512",
      &plane_moments<float>,
      &plane_grad_sums<float>,
      &batch_norm_plane<float>,
      &batch_norm_backward_plane<float>,
      &layer_norm_backward_row_any<float>,
      &softmax_backward_row<float>,
      &row_sum<float>,
      &log_softmax_backward_combine<float>,
      &column_sums<float>,
      &layer_norm_row_any<float>,
      &row_max<float>,
      &row_add<float>,
      &row_scale<float>,
  };
  return kernels;
}

}  // namespace kiln::cpu
