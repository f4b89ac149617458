// The conv2d algorithms side by side (Note [conv2d algorithm] in nn/conv.cpp): im2col +
// GEMM, Winograd F(2x2, 3x3) (ops/conv.h) and the rule's pick (auto), on ResNet-18's 3x3
// stride-1 convs at 32x32 inputs (batch 32; stages 1-4 run at 8x8, 4x4, 2x2 and 1x1 after
// the stem), larger feature maps and three shapes below the rule's Winograd bound, float32 and one float64, forward (fwd) and forward +
// backward to input and weight (fwdbwd). Rates are GFLOP/s of the direct convolution,
// 2 N C_out C_in 9 OH OW per pass (3 passes with the backward), whatever the algorithm
// does. Each algorithm is checked against im2col on the same data before it is timed.
// Run: OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive build/release/bench/kiln_bench --benchmark_filter=Conv/
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>

#include "kiln.h"
#include "nn/conv.h"
#include "ops/conv.h"

namespace {

using namespace kiln;

struct ConvShape {
  const char* name;
  int64_t n, c, hw;  // C_in = C_out = c, H = W = hw, padding 1
};

const ConvShape kShapes[] = {
    {"r18s1_n32_c64_8x8", 32, 64, 8},     {"r18s2_n32_c128_4x4", 32, 128, 4}, {"r18s3_n32_c256_2x2", 32, 256, 2},
    {"r18s4_n32_c512_1x1", 32, 512, 1},   {"n32_c64_32x32", 32, 64, 32},      {"n8_c64_56x56", 8, 64, 56},
    {"n8_c128_28x28", 8, 128, 28},        {"n8_c256_14x14", 8, 256, 14},
    // Where auto's rule turns Winograd down: 16 channels, 2^19 tiles x C^2, batch 1.
    {"n32_c16_16x16", 32, 16, 16},        {"n8_c64_8x8", 8, 64, 8},           {"n1_c64_16x16", 1, 64, 16},
};

const char* algo_name(ConvAlgo algo) {
  return algo == ConvAlgo::Im2col ? "im2col" : algo == ConvAlgo::Winograd ? "winograd" : "auto";
}

// Restores Auto however the benchmark ends.
struct AlgoScope {
  explicit AlgoScope(ConvAlgo algo) { set_conv2d_algo(algo); }
  ~AlgoScope() { set_conv2d_algo(ConvAlgo::Auto); }
};

Tensor run_conv(const Tensor& x, const Tensor& w) { return nn::functional::conv2d(x, w, {}, {1, 1}, {1, 1}); }

void BM_Conv(benchmark::State& state, ConvAlgo algo, ConvShape s, DType dtype, bool backward) {
  manual_seed(0);
  Tensor x = randn({s.n, s.c, s.hw, s.hw}, dtype);
  Tensor w = randn({s.c, s.c, 3, 3}, dtype) * (1.0 / std::sqrt(9.0 * double(s.c)));
  Tensor dy = randn({s.n, s.c, s.hw, s.hw}, dtype);
  {
    NoGradGuard no_grad;
    AlgoScope im2col(ConvAlgo::Im2col);
    Tensor ref = run_conv(x, w);
    set_conv2d_algo(algo);
    // float32: Winograd's transforms add a few roundings (ops/conv.h); 1e-4 of max |y|.
    const double err = max(abs(run_conv(x, w) - ref)).item(), scale = max(abs(ref)).item();
    if (!(err <= (dtype == DType::Float32 ? 1e-4 : 1e-12) * scale)) {
      state.SkipWithError(("mismatch against im2col: max error " + std::to_string(err)).c_str());
      return;
    }
  }
  if (backward) x.requires_grad_(), w.requires_grad_();
  AlgoScope scope(algo);
  for (auto _ : state) {
    Tensor y = run_conv(x, w);
    if (backward) {
      TensorList g = grad({y}, {x, w}, {dy});
      benchmark::DoNotOptimize(g[1].numel());
    } else {
      benchmark::DoNotOptimize(y.numel());
    }
  }
  const double flops = 2.0 * double(s.n * s.c * s.c * 9 * s.hw * s.hw) * (backward ? 3 : 1);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

int register_all() {
  for (const ConvShape& s : kShapes)
    for (bool backward : {false, true})
      for (ConvAlgo algo : {ConvAlgo::Im2col, ConvAlgo::Winograd, ConvAlgo::Auto})
        benchmark::RegisterBenchmark((std::string("Conv/") + algo_name(algo) + "/" + s.name + "/" +
                                      (backward ? "fwdbwd" : "fwd"))
                                         .c_str(),
                                     BM_Conv, algo, s, DType::Float32, backward)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
  const ConvShape f64{"r18s1_n32_c64_8x8_f64", 32, 64, 8};
  for (ConvAlgo algo : {ConvAlgo::Im2col, ConvAlgo::Winograd})
    benchmark::RegisterBenchmark((std::string("Conv/") + algo_name(algo) + "/" + f64.name + "/fwd").c_str(), BM_Conv,
                                 algo, f64, DType::Float64, false)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  return 0;
}

const int registered = register_all();

}  // namespace
