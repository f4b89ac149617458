// Thread count for kiln's CPU kernels (defaults to OpenMP's, i.e. OMP_NUM_THREADS or the core count).
#include "ops/cpu/parallel.h"

#include <algorithm>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

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

bool set_flush_denormal(bool on) {
#if defined(__SSE__)
  constexpr unsigned kFtzDaz = 0x8040;  // MXCSR: flush-to-zero (bit 15), denormals-are-zero (bit 6)
  const auto apply = [on] { _mm_setcsr(on ? (_mm_getcsr() | kFtzDaz) : (_mm_getcsr() & ~kFtzDaz)); };
  apply();
#ifdef _OPENMP
  // Each thread of the team sets its own register. With omp_get_max_threads() asked
  // for, the team is the pool the kernels' parallel regions reuse.
#pragma omp parallel num_threads(std::max(num_threads(), omp_get_max_threads()))
  apply();
#endif
  return true;
#else
  (void)on;
  return false;
#endif
}

}  // namespace kiln::cpu
