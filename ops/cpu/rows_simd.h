// The float32 row and channel loops of ops/cpu/rows_loops.h compiled per ISA
// (rows_avx2.cpp, rows_avx512.cpp) and chosen at run time from active_isa(), as the
// elementwise kernels are (ops/cpu/elementwise_simd.h).
#pragma once

#include <cstdint>

namespace kiln::cpu {

// Note [SIMD row kernels]
// The same C++ loops as the scalar reference, built with the ISA's -m flags so that the
// compiler vectorises them at that width (the Generic build has SSE2's 2 doubles or 4
// floats a vector). Every path adds in the same 8-lane order; results may differ from
// the reference only by rounding where the compiler fuses a multiply and an add. The
// tests of layer norm, batch norm and softmax run each level (tests/support/isa.h).
struct RowKernels {
  const char* isa;  // "avx2", "avx512"
  void (*plane_moments)(const float* x, int64_t s, double* mean, double* m2);
  void (*plane_grad_sums)(const float* x, const float* g, int64_t s, double m, double* sum_g, double* sum_g_xm);
  void (*batch_norm_plane)(const float* x, float* y, int64_t s, float m, float k, float b);
  void (*batch_norm_backward_plane)(const float* x, const float* g, float* dx, int64_t s, float m, float a, float k,
                                    float b);
  void (*layer_norm_backward_row)(const float* x, const float* g, const float* w, float* dx, double* acc,
                                  int64_t cols, double m, double v);
  void (*softmax_backward_row)(const float* y, const float* g, float* dx, int64_t n);
  double (*row_sum)(const float* g, int64_t n);
  void (*log_softmax_backward_combine)(const float* g, const float* e, float* dx, int64_t n, float s);
  void (*column_sums)(const float* x, int64_t rows, int64_t ld, int64_t cols, double* acc);
  void (*layer_norm_row)(const float* x, const float* w, const float* b, float* y, int64_t cols, double eps,
                         float* mean, float* rstd);
  float (*row_max)(const float* x, int64_t n);
  void (*row_add)(const float* x, float* y, int64_t n, float b);
  void (*row_scale)(float* y, int64_t n, float s);
};

// The loops of active_isa(), or nullptr on the Generic level (the templates of
// rows_loops.h run directly).
const RowKernels* row_kernels();

// Defined in rows_avx512.cpp and rows_avx2.cpp; call only when the CPU has that level.
const RowKernels& row_kernels_avx512();
const RowKernels& row_kernels_avx2();

}  // namespace kiln::cpu
