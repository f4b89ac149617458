// The CPU GEMM ladder (ops/cpu/gemm.cpp) side by side, with OpenBLAS as the peer when
// CMake found it (KILN_BENCH_HAVE_OPENBLAS): float32 squares 128..2048, the MLP's three
// products (forward, dinput, dweight), float64 1024^3 and matrix-vector shapes, in
// GFLOP/s and as a fraction of the machine's FMA peak (bench/peak.h). Every variant is
// checked against a naive dot product on sampled elements of C before it is timed.
// Run: OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive build/release/bench/kiln_bench --benchmark_filter=Gemm
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/peak.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"
#ifdef KILN_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

// One product C = op(A) op(B) on row-major operands, C (m, n).
struct Shape {
  const char* name;
  bool trans_a, trans_b;
  int64_t m, n, k;
};

// The flagship MLP's first layer, Linear(784, 256) on a batch of 128 (weight W (256, 784),
// as PyTorch stores it): forward y = x W^T, and the two products of its backward; then
// the logits of its second layer, Linear(256, 10), a narrow product (Note [Narrow
// products] in ops/cpu/gemm.cpp).
const Shape kMlpShapes[] = {
    {"mlp_forward x(128,784) @ W^T", false, true, 128, 256, 784},
    {"mlp_dinput dy(128,256) @ W", false, false, 128, 784, 256},
    {"mlp_dweight dy^T(256,128) @ x", true, false, 256, 784, 128},
    {"mlp_logits h(128,256) @ W2^T", false, true, 128, 10, 256},
};

template <typename T>
struct Problem {
  Shape s;
  int64_t lda, ldb;
  std::vector<T> a, b, c;

  explicit Problem(const Shape& shape)
      : s(shape),
        lda(shape.trans_a ? shape.m : shape.k),
        ldb(shape.trans_b ? shape.k : shape.n),
        a(size_t(shape.m * shape.k)),
        b(size_t(shape.k * shape.n)),
        c(size_t(shape.m * shape.n)) {
    std::mt19937 gen(42);
    std::normal_distribution<double> normal;
    for (T& x : a) x = T(normal(gen));
    for (T& x : b) x = T(normal(gen));
  }
  double flops() const { return 2.0 * double(s.m) * double(s.n) * double(s.k); }
  void run(int version) {
    kiln::cpu::gemm_variant<T>(version, s.trans_a, s.trans_b, s.m, s.n, s.k, T(1), a.data(), lda, b.data(), ldb, T(0),
                               c.data(), s.n);
  }
  T op_a(int64_t i, int64_t p) const { return s.trans_a ? a[size_t(p * lda + i)] : a[size_t(i * lda + p)]; }
  T op_b(int64_t p, int64_t j) const { return s.trans_b ? b[size_t(j * ldb + p)] : b[size_t(p * ldb + j)]; }

  // C against naive dot products (in double) at 500 sampled elements, within the forward
  // error bound of a k-term dot product; "" when all agree.
  std::string mismatch(const char* who) const {
    std::mt19937 gen(7);
    std::uniform_int_distribution<int64_t> row(0, s.m - 1), col(0, s.n - 1);
    for (int sample = 0; sample < 500; ++sample) {
      const int64_t i = row(gen), j = col(gen);
      double dot = 0, magnitude = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        dot += double(op_a(i, p)) * double(op_b(p, j));
        magnitude += std::abs(double(op_a(i, p)) * double(op_b(p, j)));
      }
      const double tol = 2.0 * double(s.k + 4) * std::numeric_limits<T>::epsilon() * magnitude;
      const double got = double(c[size_t(i * s.n + j)]);
      if (!(std::abs(got - dot) <= tol)) {
        return std::string(who) + " differs from the naive product at C(" + std::to_string(i) + ", " +
               std::to_string(j) + "): " + std::to_string(got) + " vs " + std::to_string(dot);
      }
    }
    return "";
  }

#ifdef KILN_BENCH_HAVE_OPENBLAS
  void run_openblas() {
    const CBLAS_TRANSPOSE ta = s.trans_a ? CblasTrans : CblasNoTrans, tb = s.trans_b ? CblasTrans : CblasNoTrans;
    if constexpr (sizeof(T) == 4) {
      cblas_sgemm(CblasRowMajor, ta, tb, int(s.m), int(s.n), int(s.k), 1.f, a.data(), int(lda), b.data(), int(ldb),
                  0.f, c.data(), int(s.n));
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, int(s.m), int(s.n), int(s.k), 1.0, a.data(), int(lda), b.data(), int(ldb),
                  0.0, c.data(), int(s.n));
    }
  }
#endif
};

// Versions 1 and 4 run on one thread, the others on all of kiln's threads.
int threads_of(int version) { return version == 1 || version == 4 ? 1 : kiln::cpu::num_threads(); }

#ifdef KILN_BENCH_HAVE_OPENBLAS
// OpenBLAS's GFLOP/s on the same shape and thread count: the mean over at least 0.3 s of
// calls after one warm-up call, measured once per (shape, dtype, threads) and cached, so
// each kiln benchmark measures its peer while the machine is in the same state. Then a
// pause: OpenBLAS's threads keep spinning for a while after a call, and would steal the
// cores from the kiln run that follows.
template <typename T>
double openblas_gflops(Problem<T>& p, int threads) {
  static std::map<std::tuple<std::string, int64_t, int64_t, int64_t, int>, double> cache;
  const auto key = std::make_tuple(std::string(p.s.name), p.s.m, p.s.n, p.s.k, threads);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  openblas_set_num_threads(threads);
  p.run_openblas();
  int calls = 0;
  const auto start = Clock::now();
  double seconds = 0;
  while (seconds < 0.3) {
    p.run_openblas();
    ++calls;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double gflops = p.flops() * calls / seconds / 1e9;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return cache[key] = gflops;
}
#endif

template <typename T>
void run_gemm_benchmark(benchmark::State& state, int version, const Shape& shape) {
  const int threads = threads_of(version);
  state.SetLabel(std::string(kiln::cpu::gemm_variant_name(version)) + " " + shape.name + " " +
                 kiln::cpu::isa_name(kiln::cpu::active_isa()));
  Problem<T> p(shape);
  // Google Benchmark calls this function several times per benchmark while it picks an
  // iteration count; the check runs on the first call only.
  static std::map<std::tuple<int, std::string, int64_t, int64_t, int64_t>, std::string> checked;
  const auto key = std::make_tuple(version, std::string(shape.name), shape.m, shape.n, shape.k);
  if (!checked.contains(key)) {
    p.run(version);
    checked[key] = p.mismatch(kiln::cpu::gemm_variant_name(version));
  }
  if (!checked[key].empty()) {
    state.SkipWithError(checked[key].c_str());
    return;
  }
#ifdef KILN_BENCH_HAVE_OPENBLAS
  const double peer = openblas_gflops(p, threads);
#endif
  p.run(version);  // warm-up: packing buffers, threads
  double seconds = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    p.run(version);
    benchmark::DoNotOptimize(p.c.data());
    benchmark::ClobberMemory();
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double gflops = p.flops() * double(state.iterations()) / seconds / 1e9;
  // float64 vectors hold half as many values: half the float32 peak.
  const double peak = kiln::bench::fma_peak_gflops(threads) * (sizeof(T) == 8 ? 0.5 : 1.0);
  state.counters["GFLOP/s"] =
      benchmark::Counter(p.flops() / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["of_peak"] = gflops / peak;
  state.counters["threads"] = threads;
#ifdef KILN_BENCH_HAVE_OPENBLAS
  state.counters["openblas_GFLOP/s"] = peer;
  state.counters["vs_openblas"] = gflops / peer;
#endif
}

Shape square(int64_t size) { return {"square", false, false, size, size, size}; }

// Args: version, size: (size, size) @ (size, size), float32.
void BM_GemmSquare(benchmark::State& state) {
  run_gemm_benchmark<float>(state, int(state.range(0)), square(state.range(1)));
}

// Args: version, size: float64.
void BM_GemmSquareF64(benchmark::State& state) {
  run_gemm_benchmark<double>(state, int(state.range(0)), square(state.range(1)));
}

// Args: version, shape (an index into kMlpShapes).
void BM_GemmMlp(benchmark::State& state) {
  run_gemm_benchmark<float>(state, int(state.range(0)), kMlpShapes[state.range(1)]);
}

// Args: version, shape: 0 = matrix-vector (2048, 2048) @ (2048, 1), 1 = vector-matrix
// (1, 2048) @ (2048, 2048), 2 = dot product (1, 4M) @ (4M, 1). Memory-bound shapes where
// the packed variants' micro-tiles are mostly padding; gemm() picks the variant from these
// numbers.
void BM_GemmVector(benchmark::State& state) {
  const Shape shapes[3] = {{"matrix-vector", false, false, 2048, 1, 2048},
                           {"vector-matrix", false, false, 1, 2048, 2048},
                           {"dot", false, false, 1, 1, 2048 * 2048}};
  run_gemm_benchmark<float>(state, int(state.range(0)), shapes[state.range(1)]);
}

std::vector<int64_t> versions_from(int64_t first) {
  std::vector<int64_t> v;
  for (int64_t version = first; version <= kiln::cpu::kNumGemmVariants; ++version) v.push_back(version);
  return v;
}

// The naive kernel stops at 512 (1024^3 takes it seconds per run), the portable ones
// (2 and 3) at 1024.
BENCHMARK(BM_GemmSquare)->ArgsProduct({{1}, {128, 512}})->ArgNames({"version", "size"})->UseRealTime();
BENCHMARK(BM_GemmSquare)->ArgsProduct({{2, 3}, {128, 512, 1024}})->ArgNames({"version", "size"})->UseRealTime();
BENCHMARK(BM_GemmSquare)
    ->ArgsProduct({versions_from(4), {128, 512, 1024, 2048}})
    ->ArgNames({"version", "size"})
    ->UseRealTime();
BENCHMARK(BM_GemmSquareF64)->ArgsProduct({versions_from(2), {1024}})->ArgNames({"version", "size"})->UseRealTime();
BENCHMARK(BM_GemmMlp)->ArgsProduct({versions_from(1), {0, 1, 2, 3}})->ArgNames({"version", "shape"})->UseRealTime();
BENCHMARK(BM_GemmVector)->ArgsProduct({versions_from(1), {0, 1, 2}})->ArgNames({"version", "shape"})->UseRealTime();

}  // namespace
