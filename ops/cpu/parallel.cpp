// Thread count for kiln's CPU kernels (defaults to OpenMP's, i.e. OMP_NUM_THREADS or the core count).
#include "ops/cpu/parallel.h"

namespace kiln::cpu {

namespace {
int configured_threads = 0;  // 0: OpenMP's default
}

int num_threads() {
#ifdef _OPENMP
  return configured_threads > 0 ? configured_threads : omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) { configured_threads = n > 0 ? n : 0; }

}  // namespace kiln::cpu
