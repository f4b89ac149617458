// parallel_for: OpenMP over a range with a grain size, so that tiny tensors run on
// the calling thread (starting threads costs more than adding a few numbers).
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kiln::cpu {

constexpr int64_t kElementwiseGrain = 32768;  // elements; below this, one thread

int num_threads();
void set_num_threads(int n);

// Note [Flushing denormals]
// As torch.set_flush_denormal: with `on`, float arithmetic on the CPU treats denormal
// inputs as zero and flushes denormal results to zero (x86's MXCSR DAZ and FTZ bits), on
// the calling thread and on every thread of kiln's OpenMP team; `off` restores IEEE
// behaviour, the default, as in PyTorch. Denormal arithmetic can be many times slower:
// Adam's moments decay into denormals where a gradient stays 0 (the MLP's dead hidden
// units), and its step took 47 us instead of 29. Returns false, changing nothing, on a
// CPU without these controls. Threads started later inherit the setting of the thread
// that starts them.
bool set_flush_denormal(bool on);

// The threads a kernel may use when called here: num_threads(), or 1 inside a parallel
// region, where parallel_for runs on the calling thread (Note [LSTM row bands] calls
// GEMMs from each thread of a region).
inline int available_threads() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : num_threads();
#else
  return 1;
#endif
}

// Inside parallel_for's f: which of its threads runs this chunk, in [0, num_threads());
// 0 outside a parallel region. Kernels index per-thread partial results with it.
inline int thread_index() {
#ifdef _OPENMP
  return omp_in_parallel() ? omp_get_thread_num() : 0;
#else
  return 0;
#endif
}

// Calls f(begin, end) on disjoint chunks covering [begin, end), each at least `grain`
// long (except the last), on up to num_threads() threads.
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& f) {
  int64_t n = end - begin;
  if (n <= 0) return;
#ifdef _OPENMP
  int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  int threads = int(std::min<int64_t>(num_threads(), max_chunks));
  if (threads > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(threads)
    {
      int t = omp_get_thread_num();
      int nt = omp_get_num_threads();
      int64_t chunk = (n + nt - 1) / nt;
      int64_t b = begin + t * chunk;
      int64_t e = std::min(end, b + chunk);
      if (b < e) f(b, e);
    }
    return;
  }
#endif
  f(begin, end);
}

}  // namespace kiln::cpu
