// Elementwise unary ops on contiguous float32 (relu, neg, exp, sigmoid, tanh with SIMD
// kernels; gelu on the scalar loop), per ISA level: GB/s (10^9 bytes read + written
// per second), elements/s and of_peak_bw, the fraction of the measured copy bandwidth (bench/peak.h).
// Run: build/release/bench/kiln_bench --benchmark_filter=Unary
#include <benchmark/benchmark.h>

#include <chrono>

#include "bench/peak.h"
#include "kiln.h"
#include "ops/cpu/cpu_features.h"

namespace {

using namespace kiln;

// Args: number of elements, ISA level (0 generic: the scalar loop, 1 avx2, 2 avx512).
template <Tensor (*Op)(const Tensor&)>
void BM_Unary(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto isa = cpu::CpuIsa(state.range(1));
  if (int(isa) > int(cpu::detected_isa())) {
    state.SkipWithError("the CPU lacks this ISA level");
    return;
  }
  const double bytes = double(n) * 2 * sizeof(float);
  const double peak = bench::memory_bandwidth().copy_gbs;
  const cpu::CpuIsa before = cpu::active_isa();
  cpu::set_active_isa(isa);
  Tensor x = randn({n});
  double seconds = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    Tensor y = Op(x);
    benchmark::DoNotOptimize(y.raw_data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  cpu::set_active_isa(before);
  state.SetLabel(cpu::isa_name(isa));
  bench::report_bandwidth(state, bytes, seconds, peak);
  state.counters["elements/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

Tensor gelu_exact(const Tensor& x) { return gelu(x); }

void args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{1 << 16, 1 << 24}, {0, 1, 2}})->ArgNames({"n", "isa"})->UseRealTime();
}

BENCHMARK(BM_Unary<relu>)->Name("BM_Unary/relu")->Apply(args);
BENCHMARK(BM_Unary<neg>)->Name("BM_Unary/neg")->Apply(args);
BENCHMARK(BM_Unary<exp>)->Name("BM_Unary/exp")->Apply(args);
BENCHMARK(BM_Unary<sigmoid>)->Name("BM_Unary/sigmoid")->Apply(args);
BENCHMARK(BM_Unary<tanh>)->Name("BM_Unary/tanh")->Apply(args);
BENCHMARK(BM_Unary<gelu_exact>)->Name("BM_Unary/gelu")->Args({1 << 24, 0})->ArgNames({"n", "isa"})->UseRealTime();

}  // namespace
