// Elementwise binary ops: add, sub, mul, div on contiguous float32 per ISA level (0
// generic: the scalar loop, 1 avx2, 2 avx512), tensor-scalar, broadcast and transposed
// operands, in GB/s (10^9 bytes read + written per second) and of_peak_bw, the fraction of the
// measured triad bandwidth (two inputs) or copy bandwidth (one input; bench/peak.h).
// Run: build/release/bench/kiln_bench --benchmark_filter=Binary
#include <benchmark/benchmark.h>

#include <chrono>

#include "bench/peak.h"
#include "kiln.h"
#include "ops/cpu/cpu_features.h"

namespace {

using namespace kiln;

// Sets the ISA level of argument `arg` for the benchmark's lifetime; false (the benchmark
// skipped) when the CPU lacks it.
class IsaScope {
 public:
  explicit IsaScope(benchmark::State& state, int arg) : before_(cpu::active_isa()) {
    const auto isa = cpu::CpuIsa(state.range(arg));
    ok_ = int(isa) <= int(cpu::detected_isa());
    if (!ok_) {
      state.SkipWithError("the CPU lacks this ISA level");
      return;
    }
    cpu::set_active_isa(isa);
    state.SetLabel(cpu::isa_name(isa));
  }
  ~IsaScope() { cpu::set_active_isa(before_); }
  bool ok() const { return ok_; }

 private:
  cpu::CpuIsa before_;
  bool ok_ = false;
};

// Runs f once per iteration, timing it; then reports GB/s and of_peak_bw for `bytes` per
// iteration against `peak_gbs`.
template <typename F>
void run_timed(benchmark::State& state, double bytes, double peak_gbs, F f) {
  double seconds = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    Tensor c = f();
    benchmark::DoNotOptimize(c.raw_data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  bench::report_bandwidth(state, bytes, seconds, peak_gbs);
}

// Args: number of elements, ISA level. out = a op b, all contiguous: 12 bytes per element.
template <Tensor (*Op)(const Tensor&, const Tensor&)>
void BM_BinaryContiguous(benchmark::State& state) {
  IsaScope scope(state, 1);
  if (!scope.ok()) return;
  const int64_t n = state.range(0);
  Tensor a = randn({n}), b = rand({n}) + 0.5;
  run_timed(state, double(n) * 3 * sizeof(float), bench::memory_bandwidth().triad_gbs, [&] { return Op(a, b); });
}

Tensor add_op(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor sub_op(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor mul_op(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor div_op(const Tensor& a, const Tensor& b) { return div(a, b); }

void args(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{1 << 12, 1 << 20, 1 << 24}, {0, 1, 2}})->ArgNames({"n", "isa"})->UseRealTime();
}
BENCHMARK(BM_BinaryContiguous<add_op>)->Name("BM_Binary/add")->Apply(args);
BENCHMARK(BM_BinaryContiguous<sub_op>)->Name("BM_Binary/sub")->Apply(args);
BENCHMARK(BM_BinaryContiguous<mul_op>)->Name("BM_Binary/mul")->Apply(args);
BENCHMARK(BM_BinaryContiguous<div_op>)->Name("BM_Binary/div")->Apply(args);

// Args: number of elements, ISA level. out = a * 1.5 (a broadcast scalar): 8 bytes each.
void BM_BinaryMulScalar(benchmark::State& state) {
  IsaScope scope(state, 1);
  if (!scope.ok()) return;
  const int64_t n = state.range(0);
  Tensor a = randn({n});
  run_timed(state, double(n) * 2 * sizeof(float), bench::memory_bandwidth().copy_gbs, [&] { return a * 1.5; });
}
BENCHMARK(BM_BinaryMulScalar)->Name("BM_Binary/mul_scalar")->ArgsProduct({{1 << 24}, {0, 1, 2}})->ArgNames({"n", "isa"})->UseRealTime();

// Args: number of elements, ISA level. a *= 1.0000001 in place: 8 bytes each.
void BM_BinaryMulScalarInPlace(benchmark::State& state) {
  IsaScope scope(state, 1);
  if (!scope.ok()) return;
  const int64_t n = state.range(0);
  Tensor a = randn({n});
  run_timed(state, double(n) * 2 * sizeof(float), bench::memory_bandwidth().copy_gbs, [&] { return a.mul_(1.0000001); });
}
BENCHMARK(BM_BinaryMulScalarInPlace)->Name("BM_Binary/mul_scalar_inplace")->ArgsProduct({{1 << 24}, {0, 1, 2}})->ArgNames({"n", "isa"})->UseRealTime();

// Args: rows, ISA level. A (rows, 1024) matrix plus a (1024) row vector: the bias add of
// a Linear layer (the row stays in cache: 8 bytes per element from memory).
void BM_BinaryAddBroadcastRow(benchmark::State& state) {
  IsaScope scope(state, 1);
  if (!scope.ok()) return;
  const int64_t rows = state.range(0);
  Tensor a = randn({rows, 1024}), b = randn({1024});
  run_timed(state, double(rows) * 1024 * 2 * sizeof(float), bench::memory_bandwidth().copy_gbs,
            [&] { return add(a, b); });
}
BENCHMARK(BM_BinaryAddBroadcastRow)->Name("BM_Binary/add_broadcast_row")->ArgsProduct({{128, 4096}, {0, 2}})->ArgNames({"rows", "isa"})->UseRealTime();

// Args: n (an n x n matrix). A transposed operand: the strided path of the iterator, the
// same on every ISA level.
void BM_BinaryAddTransposed(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n, n}), b = randn({n, n}).t();
  run_timed(state, double(n) * double(n) * 3 * sizeof(float), bench::memory_bandwidth().triad_gbs,
            [&] { return add(a, b); });
}
BENCHMARK(BM_BinaryAddTransposed)->Name("BM_Binary/add_transposed")->Arg(1024)->Arg(4096)->UseRealTime();

}  // namespace
