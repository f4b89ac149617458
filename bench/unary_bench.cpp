// Elementwise unary ops: exp, tanh, gelu on contiguous float32, in GB/s and elements/s.
// Run: build/release/bench/kiln_bench --benchmark_filter=Unary
#include <benchmark/benchmark.h>

#include <string>

#include "kiln.h"

namespace {

using namespace kiln;

template <Tensor (*Op)(const Tensor&)>
void BM_Unary(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor x = randn({n});
  for (auto _ : state) {
    Tensor y = Op(x);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * int64_t(sizeof(float)));
  state.counters["elements/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

Tensor gelu_exact(const Tensor& x) { return gelu(x); }

BENCHMARK(BM_Unary<exp>)->Name("BM_Unary/exp")->Arg(1 << 16)->Arg(1 << 24)->UseRealTime();
BENCHMARK(BM_Unary<tanh>)->Name("BM_Unary/tanh")->Arg(1 << 24)->UseRealTime();
BENCHMARK(BM_Unary<relu>)->Name("BM_Unary/relu")->Arg(1 << 24)->UseRealTime();
BENCHMARK(BM_Unary<gelu_exact>)->Name("BM_Unary/gelu")->Arg(1 << 24)->UseRealTime();

}  // namespace
