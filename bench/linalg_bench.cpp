// The CPU GEMM ladder (ops/cpu/gemm.cpp) side by side on float32: square 128..1024, the
// MLP layer shape x(128, 784) @ W(784, 256) and matrix-vector shapes, in GFLOP/s. Each variant is checked
// against gemm_kernel1 (the naive reference) before it is timed.
// Run: build/release/bench/kiln_bench --benchmark_filter=Gemm
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "ops/cpu/gemm.h"

namespace {

using kiln::cpu::gemm_variant;

struct Problem {
  int64_t m, n, k;
  std::vector<float> a, b, c;
  Problem(int64_t m_, int64_t n_, int64_t k_)
      : m(m_), n(n_), k(k_), a(size_t(m * k)), b(size_t(k * n)), c(size_t(m * n)) {
    std::mt19937 gen(42);
    std::normal_distribution<float> normal;
    for (float& x : a) x = normal(gen);
    for (float& x : b) x = normal(gen);
  }
  void run(int version) {
    gemm_variant<float>(version, false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c.data(), n);
  }
};

// The variant's C against gemm_kernel1's, within the forward error bound of a k-term
// dot product (inputs are N(0, 1), so |terms| sum to about k * 2/pi per element).
std::string mismatch_with_reference(Problem& p, int version) {
  p.run(1);
  std::vector<float> expected = p.c;
  std::fill(p.c.begin(), p.c.end(), std::numeric_limits<float>::quiet_NaN());
  p.run(version);
  const double tol = 2.0 * double(p.k + 4) * std::numeric_limits<float>::epsilon() * double(p.k);
  for (size_t i = 0; i < p.c.size(); ++i) {
    if (!(std::abs(double(p.c[i]) - double(expected[i])) <= tol)) {
      return std::string(kiln::cpu::gemm_variant_name(version)) + " differs from gemm_kernel1 at element " +
             std::to_string(i) + ": " + std::to_string(p.c[i]) + " vs " + std::to_string(expected[i]);
    }
  }
  return "";
}

void run_gemm_benchmark(benchmark::State& state, int version, int64_t m, int64_t n, int64_t k) {
  state.SetLabel(kiln::cpu::gemm_variant_name(version));
  Problem p(m, n, k);
  // Google Benchmark calls this function several times per benchmark while it picks an
  // iteration count; the (slow, naive) check runs on the first call only.
  static std::map<std::tuple<int, int64_t, int64_t, int64_t>, std::string> checked;
  auto key = std::make_tuple(version, m, n, k);
  if (!checked.contains(key)) checked[key] = mismatch_with_reference(p, version);
  const std::string& error = checked[key];
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  for (auto _ : state) {
    p.run(version);
    benchmark::DoNotOptimize(p.c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(m) * double(n) * double(k) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Args: version, size: (size, size) @ (size, size).
void BM_GemmSquare(benchmark::State& state) {
  const int64_t s = state.range(1);
  run_gemm_benchmark(state, int(state.range(0)), s, s, s);
}

// Args: version. The MLP layer x(128, 784) @ W(784, 256): m = 128, n = 256, k = 784.
void BM_GemmMlp(benchmark::State& state) { run_gemm_benchmark(state, int(state.range(0)), 128, 256, 784); }

// Variant numbers from `first` to the last one.
// Args: version, shape: 0 = matrix-vector (2048, 2048) @ (2048, 1), 1 = vector-matrix
// (1, 2048) @ (2048, 2048), 2 = dot product (1, 4M) @ (4M, 1). Memory-bound shapes where
// version 3's micro-tile is mostly padding; gemm() picks the variant from these numbers.
void BM_GemmVector(benchmark::State& state) {
  const int64_t shapes[3][3] = {{2048, 1, 2048}, {1, 2048, 2048}, {1, 1, 2048 * 2048}};
  const int64_t* s = shapes[state.range(1)];
  run_gemm_benchmark(state, int(state.range(0)), s[0], s[1], s[2]);
}

std::vector<int64_t> versions_from(int64_t first) {
  std::vector<int64_t> v;
  for (int64_t version = first; version <= kiln::cpu::kNumGemmVariants; ++version) v.push_back(version);
  return v;
}

// The naive kernel stops at 512 (1024^3 takes it seconds per run).
BENCHMARK(BM_GemmSquare)->ArgsProduct({{1}, {128, 256, 512}})->ArgNames({"version", "size"})->UseRealTime();
BENCHMARK(BM_GemmSquare)
    ->ArgsProduct({versions_from(2), {128, 256, 512, 1024}})
    ->ArgNames({"version", "size"})
    ->UseRealTime();
BENCHMARK(BM_GemmMlp)->ArgsProduct({versions_from(1)})->ArgNames({"version"})->UseRealTime();
BENCHMARK(BM_GemmVector)->ArgsProduct({versions_from(1), {0, 1, 2}})->ArgNames({"version", "shape"})->UseRealTime();

}  // namespace
