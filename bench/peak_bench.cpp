// The machine's limits that kernel benchmarks compare against (bench/peak.h): the float32
// FMA peak, per thread and on all threads, and the memory bandwidth (copy and triad on
// 256 MB arrays). Run: build/release/bench/kiln_bench --benchmark_filter=Peak
#include <benchmark/benchmark.h>
#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "bench/peak.h"
#include "ops/cpu/cpu_features.h"

namespace kiln::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Independent multiply-add chains, each in its own register: with kChains >= FMA latency
// x FMA units (4 x 2 on Zen 4 and most Intel cores) the FMA units never wait. Each
// function returns float32 flops done; `sink` keeps the results alive.
constexpr int kChains = 16;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iterations, float* sink) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(float(c));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  *sink = lanes[0] + lanes[15];
  return double(iterations) * kChains * 16 * 2;
}

__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iterations, float* sink) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(float(c));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  *sink = lanes[0] + lanes[7];
  return double(iterations) * kChains * 8 * 2;
}
#endif

// Baseline: 16-byte vectors, multiply then add (no FMA in SSE2), 2 flops per lane.
double fma_loop_generic(int64_t iterations, float* sink) {
  typedef float Vec __attribute__((vector_size(16)));
  Vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = Vec{} + float(c);
  const Vec x = Vec{} + 0.999999f, y = Vec{} + 1e-7f;
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * x + y;
  }
  Vec sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum += acc[c];
  *sink = sum[0] + sum[3];
  return double(iterations) * kChains * 4 * 2;
}

double fma_loop(int64_t iterations, float* sink) {
#if defined(__x86_64__)
  switch (cpu::detected_isa()) {
    case cpu::CpuIsa::Avx512: return fma_loop_avx512(iterations, sink);
    case cpu::CpuIsa::Avx2: return fma_loop_avx2(iterations, sink);
    case cpu::CpuIsa::Generic: break;
  }
#endif
  return fma_loop_generic(iterations, sink);
}

// GFLOP/s of fma_loop on `threads` threads at once, best of 5 passes of ~40 ms.
double measure_fma_peak(int threads) {
  constexpr int64_t kIterations = 4 << 20;
  std::vector<float> sink(size_t(threads) * 16);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    double flops = 0;
    const auto start = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += fma_loop(kIterations, &sink[size_t(omp_get_thread_num()) * 16]);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, flops / seconds / 1e9);
  }
  benchmark::DoNotOptimize(sink.data());
  return best;
}

// Thread t of `threads` gets [begin, end) of [0, n), both multiples of 16 floats (64
// bytes), so every thread's stores start on a cache line.
std::pair<int64_t, int64_t> thread_chunk(int64_t n, int t, int threads) {
  const int64_t per = (n / threads + 15) / 16 * 16;
  return {std::min(n, t * per), std::min(n, (t + 1) * per)};
}

#if defined(__x86_64__)
// dst[i : i + 4] = f(i) over [begin, end) with streaming (non-temporal) stores, as kiln's
// elementwise kernels write outputs of this size (Note [SIMD elementwise kernels]). A
// plain store reads each line before it writes it, so a copy counted as 8 bytes a float
// would move 12, and the "peak" would understate the machine by up to a third (measured
// here: 35 GB/s for a plain copy loop, while kiln's relu moved 50).
template <typename F>
void stream_range(float* dst, int64_t begin, int64_t end, F f) {
  for (int64_t i = begin; i < end; i += 4) _mm_stream_ps(dst + i, f(i));
  _mm_sfence();
}
#endif

MemoryBandwidth measure_bandwidth() {
  constexpr int64_t n = int64_t(256) << 18;  // 64M floats: 256 MB per array
  auto alloc = [] {
    return std::unique_ptr<float[], decltype(&std::free)>(
        static_cast<float*>(std::aligned_alloc(64, size_t(n) * sizeof(float))), &std::free);
  };
  auto a = alloc(), b = alloc(), c = alloc();
  // First touch on the threads that will use the pages.
#pragma omp parallel
  {
    const auto [begin, end] = thread_chunk(n, omp_get_thread_num(), omp_get_num_threads());
    for (int64_t i = begin; i < end; ++i) a[i] = 1.f, b[i] = 2.f, c[i] = 3.f;
  }
  auto best_seconds = [&](auto&& f) {
    double best = 1e30;
    for (int rep = 0; rep < 4; ++rep) {
      const auto start = Clock::now();
#pragma omp parallel
      {
        const auto [begin, end] = thread_chunk(n, omp_get_thread_num(), omp_get_num_threads());
        f(begin, end);
      }
      best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    }
    return best;
  };
#if defined(__x86_64__)
  const double copy = best_seconds([&](int64_t begin, int64_t end) {
    stream_range(b.get(), begin, end, [&](int64_t i) { return _mm_load_ps(a.get() + i); });
  });
  const __m128 half = _mm_set1_ps(0.5f);
  const double triad = best_seconds([&](int64_t begin, int64_t end) {
    stream_range(a.get(), begin, end, [&](int64_t i) {
      return _mm_add_ps(_mm_load_ps(b.get() + i), _mm_mul_ps(half, _mm_load_ps(c.get() + i)));
    });
  });
#else  // no streaming stores: plain loops
  const double copy = best_seconds([&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) b[i] = a[i];
  });
  const double triad = best_seconds([&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) a[i] = b[i] + 0.5f * c[i];
  });
#endif
  benchmark::DoNotOptimize(a.get());
  const double bytes = double(n) * sizeof(float);
  return {2 * bytes / copy / 1e9, 3 * bytes / triad / 1e9};
}

}  // namespace

double fma_peak_gflops(int threads) {
  static std::mutex mutex;
  static std::map<int, double> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(threads);
  if (it == cache.end()) it = cache.emplace(threads, measure_fma_peak(threads)).first;
  return it->second;
}

const MemoryBandwidth& memory_bandwidth() {
  static const MemoryBandwidth measured = measure_bandwidth();
  return measured;
}

namespace {

// Args: threads (0: all OpenMP threads). Times the FMA loop itself; the counter is the
// cached peak that the other benchmarks divide by.
void BM_PeakFmaFloat32(benchmark::State& state) {
  const int threads = state.range(0) > 0 ? int(state.range(0)) : omp_get_max_threads();
  state.SetLabel(cpu::isa_name(cpu::detected_isa()));
  double flops = 0;
  std::vector<float> sink(size_t(threads) * 16);
  for (auto _ : state) {
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += fma_loop(1 << 20, &sink[size_t(omp_get_thread_num()) * 16]);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_GFLOP/s"] = fma_peak_gflops(threads);
  state.counters["threads"] = threads;
}

void BM_PeakMemoryBandwidth(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(memory_bandwidth());
  state.counters["copy_GB/s"] = memory_bandwidth().copy_gbs;
  state.counters["triad_GB/s"] = memory_bandwidth().triad_gbs;
  state.counters["threads"] = omp_get_max_threads();
}

BENCHMARK(BM_PeakFmaFloat32)->Arg(1)->Arg(0)->ArgName("threads")->UseRealTime();
BENCHMARK(BM_PeakMemoryBandwidth)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace kiln::bench
