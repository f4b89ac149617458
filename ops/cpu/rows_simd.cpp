// Chooses the float32 row loops of the active ISA (ops/cpu/rows_simd.h).
#include "ops/cpu/rows_simd.h"

#include "ops/cpu/cpu_features.h"

namespace kiln::cpu {

const RowKernels* row_kernels() {
  switch (active_isa()) {
    case CpuIsa::Avx512: return &row_kernels_avx512();
    case CpuIsa::Avx2: return &row_kernels_avx2();
    case CpuIsa::Generic: break;
  }
  return nullptr;
}

}  // namespace kiln::cpu
