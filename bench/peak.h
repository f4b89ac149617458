// This machine's measured limits, for benchmarks that report a fraction of them: the
// float32 FMA peak (per thread and on all OpenMP threads) and the memory bandwidth. Each
// is measured on first use and cached for the process (bench/peak_bench.cpp).
#pragma once

#include <benchmark/benchmark.h>

namespace kiln::bench {

// float32 GFLOP/s of independent FMA chains held in registers (the widest vectors the CPU
// has: AVX-512, AVX2 + FMA, or 16-byte vectors), on `threads` OpenMP threads at once.
// float64's peak is half of it (the same vectors hold half as many values). Measured
// once per thread count (about 0.2 s).
double fma_peak_gflops(int threads);

// GB/s of copy (b = a: 8 bytes moved per float) and triad (a = b + s * c: 12 bytes) over
// 256 MB arrays on all OpenMP threads, best of a few passes; measured once (about 2 s).
// Both write with streaming stores, as kiln's elementwise kernels write outputs this
// large, so that no line is read before it is written and the bytes counted are the
// bytes moved.
struct MemoryBandwidth {
  double copy_gbs, triad_gbs;
};
const MemoryBandwidth& memory_bandwidth();

// Bandwidth counters of a benchmark whose every iteration reads and writes
// `bytes_per_iteration` bytes in all and whose timed loop took `seconds`: "GB/s" (10^9
// bytes per second) and "of_peak_bw", the fraction of `peak_gbs` (1.0: the op runs at the
// measured bandwidth). Compare a one-input op with copy_gbs, two inputs with triad_gbs.
inline void report_bandwidth(benchmark::State& state, double bytes_per_iteration, double seconds, double peak_gbs) {
  const double gbs = bytes_per_iteration * double(state.iterations()) / seconds / 1e9;
  state.counters["GB/s"] = gbs;
  state.counters["of_peak_bw"] = gbs / peak_gbs;
}

}  // namespace kiln::bench
