// Elementwise binary ops: add on contiguous, broadcast and transposed operands, in GB/s
// (bytes read + written per second). Run: build/release/bench/kiln_bench --benchmark_filter=Add
#include <benchmark/benchmark.h>

#include "kiln.h"

namespace {

using namespace kiln;

// Arguments: number of elements.
void BM_AddContiguous(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor a = randn({n}), b = randn({n});
  for (auto _ : state) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * n * 3 * int64_t(sizeof(float)));
}
BENCHMARK(BM_AddContiguous)->Arg(1 << 12)->Arg(1 << 20)->Arg(1 << 24)->UseRealTime();

// A (rows, 1024) matrix plus a (1024) row vector: the bias add of a Linear layer.
void BM_AddBroadcastRow(benchmark::State& state) {
  int64_t rows = state.range(0);
  Tensor a = randn({rows, 1024}), b = randn({1024});
  for (auto _ : state) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * rows * 1024 * 2 * int64_t(sizeof(float)));
}
BENCHMARK(BM_AddBroadcastRow)->Arg(128)->Arg(4096)->UseRealTime();

// A transposed operand: the strided path of the iterator.
void BM_AddTransposed(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor a = randn({n, n}), b = randn({n, n}).t();
  for (auto _ : state) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * n * n * 3 * int64_t(sizeof(float)));
}
BENCHMARK(BM_AddTransposed)->Arg(1024)->Arg(4096)->UseRealTime();

void BM_MulScalarInPlace(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor a = randn({n});
  for (auto _ : state) {
    a.mul_(1.0000001);
    benchmark::DoNotOptimize(a.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * n * 2 * int64_t(sizeof(float)));
}
BENCHMARK(BM_MulScalarInPlace)->Arg(1 << 24)->UseRealTime();

}  // namespace
