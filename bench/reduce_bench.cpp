// Reductions and softmax on float32: sum over 16M elements (all, and over dim 0 of a
// matrix: the column-block kernel), softmax/log_softmax over rows of (4096, 1024).
// Run: build/release/bench/kiln_bench --benchmark_filter='Sum|Softmax'
#include <benchmark/benchmark.h>

#include "kiln.h"

namespace {

using namespace kiln;

// Bytes moved per iteration as a GB/s rate (Google Benchmark divides by the time).
void report_bandwidth(benchmark::State& state, int64_t bytes_per_iteration) {
  state.SetBytesProcessed(state.iterations() * bytes_per_iteration);
  state.counters["GB/s"] =
      benchmark::Counter(double(state.iterations()) * double(bytes_per_iteration) / 1e9, benchmark::Counter::kIsRate);
}

// sum of every element: one long row, split across threads (reads 4 bytes per element).
void BM_SumAll(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor x = randn({n});
  for (auto _ : state) {
    Tensor s = sum(x);
    benchmark::DoNotOptimize(s.raw_data());
  }
  report_bandwidth(state, n * int64_t(sizeof(float)));
}

// sum over dim 0 of (rows, cols): inner = cols, the column-block path.
void BM_SumDim0(benchmark::State& state) {
  int64_t rows = state.range(0), cols = state.range(1);
  Tensor x = randn({rows, cols});
  for (auto _ : state) {
    Tensor s = sum(x, {0});
    benchmark::DoNotOptimize(s.raw_data());
  }
  report_bandwidth(state, (rows + 1) * cols * int64_t(sizeof(float)));
}

// softmax over the last dim of (rows, cols): reads x once per pass and writes y.
template <Tensor (*Op)(const Tensor&, int64_t)>
void BM_Softmax(benchmark::State& state) {
  int64_t rows = state.range(0), cols = state.range(1);
  Tensor x = randn({rows, cols});
  for (auto _ : state) {
    Tensor y = Op(x, -1);
    benchmark::DoNotOptimize(y.raw_data());
  }
  report_bandwidth(state, 2 * rows * cols * int64_t(sizeof(float)));
  state.counters["rows/s"] = benchmark::Counter(double(rows), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_SumAll)->Arg(1 << 16)->Arg(1 << 24)->UseRealTime();
BENCHMARK(BM_SumDim0)->Args({4096, 4096})->UseRealTime();
BENCHMARK(BM_Softmax<softmax>)->Name("BM_Softmax/softmax")->Args({4096, 1024})->UseRealTime();
BENCHMARK(BM_Softmax<log_softmax>)->Name("BM_Softmax/log_softmax")->Args({4096, 1024})->UseRealTime();

}  // namespace
