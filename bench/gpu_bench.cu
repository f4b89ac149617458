// GPU benchmarks (built into kiln_bench when CUDA is on): the SGEMM ladder of
// cuda/gemm.cu beside cuBLAS on 4096^3 (GFLOP/s, fraction of cuBLAS), the device's copy
// bandwidth, kiln's elementwise, softmax and layer-norm kernels as a fraction of it,
// conv2d as im2col + GEMM beside cuDNN on ResNet-18's layers (fraction of cuDNN's rate),
// and host-to-device copies from pageable and from pinned memory.
// Times come from CUDA events around each call (manual time), L2 flushed before each.
// Run: build/release/bench/kiln_bench --benchmark_filter=Gpu
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/factory.h"
#include "core/generator.h"
#include "core/tensor.h"
#include "cuda/gemm.h"
#include "cuda/runtime.h"
#include "nn/conv.h"
#include "nn/norm.h"
#include "ops/binary.h"
#include "ops/conv.h"
#include "ops/conv_cudnn.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace {

using kiln::Device;
using kiln::Tensor;

// Skips the benchmark (true) when there is no CUDA device, saying why.
bool skip_without_device(benchmark::State& state) {
  if (kiln::cuda::device_count() > 0) return false;
  state.SkipWithError((std::string("no CUDA device: ") + kiln::cuda::unavailable_reason()).c_str());
  return true;
}

// Times GPU work with events on kiln's stream (Note [CUDA streams]). Before each timed
// call a buffer of twice the L2's size is overwritten, so no call finds its operands
// left in L2 by the one before.
class EventTimer {
 public:
  EventTimer() {
    KILN_CUDA_CHECK(cudaEventCreate(&start_));
    KILN_CUDA_CHECK(cudaEventCreate(&stop_));
    int l2 = 0;
    KILN_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    flush_bytes_ = std::max<size_t>(size_t(l2) * 2, size_t(1) << 20);
    KILN_CUDA_CHECK(cudaMalloc(&flush_, flush_bytes_));
  }
  ~EventTimer() {
    cudaFree(flush_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Seconds the device spent on f(), which queues work on kiln's stream.
  template <typename F>
  double seconds(F&& f) {
    const cudaStream_t stream = kiln::cuda::stream_for(0);
    KILN_CUDA_CHECK(cudaMemsetAsync(flush_, 0, flush_bytes_, stream));
    KILN_CUDA_CHECK(cudaEventRecord(start_, stream));
    f();
    KILN_CUDA_CHECK(cudaEventRecord(stop_, stream));
    KILN_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return double(ms) * 1e-3;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
};

// Runs the benchmark loop over f, each iteration timed by events; returns the mean
// seconds per call. One untimed warm-up call first (kernel loading, cuBLAS's handle,
// the caching allocator's first blocks).
template <typename F>
double time_loop(benchmark::State& state, F&& f) {
  EventTimer timer;
  f();
  kiln::cuda::synchronize();
  double total = 0.0;
  int64_t calls = 0;
  for (auto _ : state) {
    const double s = timer.seconds(f);
    state.SetIterationTime(s);
    total += s;
    ++calls;
  }
  return calls > 0 ? total / double(calls) : 0.0;
}

// ---- SGEMM: C (n, n) = A (n, n) B (n, n), row-major, float32 ----

constexpr int64_t kGemmSize = 4096;

// The operands, drawn once on the host (so the check has them) and copied to the device.
struct GemmProblem {
  int64_t n;
  Tensor a, b, c;  // device
  std::vector<float> ha, hb;

  explicit GemmProblem(int64_t size) : n(size) {
    kiln::Generator gen(42);
    Tensor ta = kiln::randn({n, n}, {}, &gen), tb = kiln::randn({n, n}, {}, &gen);
    ha.assign(ta.data_ptr<float>(), ta.data_ptr<float>() + n * n);
    hb.assign(tb.data_ptr<float>(), tb.data_ptr<float>() + n * n);
    a = ta.to(Device::cuda());
    b = tb.to(Device::cuda());
    c = kiln::empty({n, n}, Device::cuda());
  }
  double flops() const { return 2.0 * double(n) * double(n) * double(n); }
  void run_variant(int version) {
    kiln::cuda::sgemm_variant(version, false, false, n, n, n, 1.0f, static_cast<const float*>(a.raw_data()), n,
                              static_cast<const float*>(b.raw_data()), n, 0.0f, static_cast<float*>(c.raw_data()), n);
  }
  // C against dot products in double at 300 sampled elements, within `unit` (the
  // inputs' relative rounding: 0 for float32 operands, 2^-11 for tf32) plus float32
  // summation's bound, both relative to sum |a_ip b_pj|; "" when all agree.
  std::string mismatch(const Tensor& result, double unit) const {
    Tensor host = result.to(Device::cpu());
    const float* got = host.data_ptr<float>();
    std::mt19937 rng(7);
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    const double eps = std::numeric_limits<float>::epsilon();
    for (int sample = 0; sample < 300; ++sample) {
      const int64_t i = pick(rng), j = pick(rng);
      double dot = 0.0, magnitude = 0.0;
      for (int64_t p = 0; p < n; ++p) {
        const double term = double(ha[size_t(i * n + p)]) * double(hb[size_t(p * n + j)]);
        dot += term;
        magnitude += std::abs(term);
      }
      const double tol = (2.0 * unit + 2.0 * double(n + 4) * eps) * magnitude;
      const double value = double(got[i * n + j]);
      if (!(std::abs(value - dot) <= tol)) {
        return "C(" + std::to_string(i) + ", " + std::to_string(j) + ") = " + std::to_string(value) +
               ", expected " + std::to_string(dot);
      }
    }
    return "";
  }
};

GemmProblem& gemm_problem() {
  static GemmProblem problem(kGemmSize);
  return problem;
}

// cuBLAS through kiln's mm (cuda/linalg.cu: full float32, no TF32): GFLOP/s, best of
// 10 calls, measured once so each variant's fraction uses the same figure. 0 when it
// failed its check, `why` then saying how.
struct CublasFigure {
  double gflops = -1.0;
  std::string why;
};
const CublasFigure& cublas_figure() {
  static CublasFigure figure;
  if (figure.gflops >= 0.0) return figure;
  GemmProblem& g = gemm_problem();
  figure.gflops = 0.0;
  figure.why = g.mismatch(kiln::mm(g.a, g.b), 0.0);
  if (!figure.why.empty()) return figure;
  EventTimer timer;
  Tensor out;
  double best = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep < 10; ++rep) best = std::min(best, timer.seconds([&] { out = kiln::mm(g.a, g.b); }));
  figure.gflops = g.flops() / best * 1e-9;
  return figure;
}

void BM_GpuGemmCublas(benchmark::State& state) {
  if (skip_without_device(state)) return;
  GemmProblem& g = gemm_problem();
  const CublasFigure& reference = cublas_figure();
  if (!reference.why.empty()) {
    state.SkipWithError(("cuBLAS differs from the reference: " + reference.why).c_str());
    return;
  }
  Tensor out;
  const double s = time_loop(state, [&] { out = kiln::mm(g.a, g.b); });
  state.counters["GFLOP/s"] = g.flops() / s * 1e-9;
  state.counters["fraction"] = g.flops() / s * 1e-9 / reference.gflops;
}

// One version of the ladder (cuda/gemm.h), checked against the reference before it is
// timed (C filled with NaN first, so a tile left unwritten shows); a mismatch stops the
// benchmark with an error. The fraction is of cuBLAS's GFLOP/s.
void BM_GpuGemmVariant(benchmark::State& state, int version) {
  if (skip_without_device(state)) return;
  GemmProblem& g = gemm_problem();
  KILN_CUDA_CHECK(cudaMemsetAsync(g.c.raw_data(), 0xff, size_t(g.n * g.n) * sizeof(float),
                                  kiln::cuda::stream_for(0)));  // all bits set: NaN
  g.run_variant(version);
  const std::string why = g.mismatch(g.c, version == 5 ? std::ldexp(1.0, -11) : 0.0);
  if (!why.empty()) {
    state.SkipWithError((std::string(kiln::cuda::sgemm_variant_name(version)) + " differs: " + why).c_str());
    return;
  }
  const double reference = cublas_figure().gflops;
  const double s = time_loop(state, [&] { g.run_variant(version); });
  state.counters["GFLOP/s"] = g.flops() / s * 1e-9;
  if (reference > 0.0) state.counters["fraction"] = g.flops() / s * 1e-9 / reference;
}

// ---- Memory-bound kernels, against the device's copy bandwidth ----

// A device tensor of `shape` filled with copies of one 1M-element randn block: random
// enough for these kernels, without drawing hundreds of millions of normals on the host
// (kiln's randn draws on the CPU and copies).
Tensor device_randn(const kiln::Shape& shape, uint64_t seed) {
  kiln::Generator gen(seed);
  Tensor out = kiln::empty(shape, Device::cuda());
  const int64_t total = out.numel(), block = std::min<int64_t>(total, int64_t(1) << 20);
  Tensor chunk = kiln::randn({block}, Device::cuda(), &gen);
  for (int64_t start = 0; start < total; start += block) {
    const int64_t count = std::min(block, total - start);
    KILN_CUDA_CHECK(cudaMemcpyAsync(static_cast<float*>(out.raw_data()) + start, chunk.raw_data(),
                                    size_t(count) * sizeof(float), cudaMemcpyDeviceToDevice,
                                    kiln::cuda::stream_for(0)));
  }
  return out;
}

constexpr int64_t kElements = int64_t(64) << 20;   // 64M floats, 256 MB per tensor
constexpr int64_t kRows = 65536, kCols = 1024;     // softmax and layer_norm rows

// Device-to-device copy of kElements floats: 2 x 256 MB moved (read + write) per call.
// Best of 20 calls, measured once: the bandwidth the other benchmarks are a fraction of.
double copy_gbs() {
  static double gbs = -1.0;
  if (gbs >= 0.0) return gbs;
  Tensor src = kiln::empty({kElements}, Device::cuda()), dst = kiln::empty({kElements}, Device::cuda());
  const size_t bytes = size_t(kElements) * sizeof(float);
  const cudaStream_t stream = kiln::cuda::stream_for(0);
  KILN_CUDA_CHECK(cudaMemsetAsync(src.raw_data(), 0, bytes, stream));
  EventTimer timer;
  auto copy = [&] {
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyDeviceToDevice, stream));
  };
  copy();
  double best = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep < 20; ++rep) best = std::min(best, timer.seconds(copy));
  gbs = 2.0 * double(bytes) / best * 1e-9;
  return gbs;
}

// The device's DRAM bandwidth from its memory clock and bus width (double data rate),
// 0 when the driver does not report them.
double dram_peak_gbs() {
  int khz = 0, bits = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&bits, cudaDevAttrGlobalMemoryBusWidth, 0) != cudaSuccess)
    return 0.0;
  return 2.0 * double(khz) * 1e3 * double(bits) / 8.0 * 1e-9;
}

// Reports GB/s for `bytes` moved per call in s seconds, and its fraction of the copy.
void report_bandwidth(benchmark::State& state, double bytes, double s, double reference_gbs) {
  const double gbs = bytes / s * 1e-9;
  state.counters["GB/s"] = gbs;
  if (reference_gbs > 0.0) state.counters["fraction"] = gbs / reference_gbs;
}

// Gpu/copy: the fraction is of the DRAM peak (clock x bus width), where reported.
void BM_GpuCopy(benchmark::State& state) {
  if (skip_without_device(state)) return;
  Tensor src = kiln::empty({kElements}, Device::cuda()), dst = kiln::empty({kElements}, Device::cuda());
  const size_t bytes = size_t(kElements) * sizeof(float);
  const cudaStream_t stream = kiln::cuda::stream_for(0);
  KILN_CUDA_CHECK(cudaMemsetAsync(src.raw_data(), 0, bytes, stream));
  const double s = time_loop(state, [&] {
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyDeviceToDevice, stream));
  });
  report_bandwidth(state, 2.0 * double(bytes), s, dram_peak_gbs());
}

// out = a + b: 3 x 256 MB moved per call.
void BM_GpuAdd(benchmark::State& state) {
  if (skip_without_device(state)) return;
  Tensor a = device_randn({kElements}, 1), b = device_randn({kElements}, 2);
  Tensor out;
  const double s = time_loop(state, [&] { out = kiln::add(a, b); });
  report_bandwidth(state, 3.0 * double(kElements) * sizeof(float), s, copy_gbs());
}

// out = relu(a): 2 x 256 MB moved per call.
void BM_GpuRelu(benchmark::State& state) {
  if (skip_without_device(state)) return;
  Tensor a = device_randn({kElements}, 3);
  Tensor out;
  const double s = time_loop(state, [&] { out = kiln::relu(a); });
  report_bandwidth(state, 2.0 * double(kElements) * sizeof(float), s, copy_gbs());
}

// softmax over the rows of (65536, 1024): at least one read and one write of 256 MB.
void BM_GpuSoftmax(benchmark::State& state) {
  if (skip_without_device(state)) return;
  Tensor x = device_randn({kRows, kCols}, 4);
  Tensor out;
  const double s = time_loop(state, [&] { out = kiln::softmax(x, 1); });
  report_bandwidth(state, 2.0 * double(kRows * kCols) * sizeof(float), s, copy_gbs());
}

// layer_norm over the rows of (65536, 1024) with weight and bias: at least one read
// and one write of 256 MB (weight and bias are 4 KB each).
void BM_GpuLayerNorm(benchmark::State& state) {
  if (skip_without_device(state)) return;
  Tensor x = device_randn({kRows, kCols}, 5);
  Tensor weight = device_randn({kCols}, 6), bias = device_randn({kCols}, 7);
  Tensor out;
  const double s = time_loop(state, [&] { out = kiln::nn::functional::layer_norm(x, {kCols}, weight, bias); });
  report_bandwidth(state, 2.0 * double(kRows * kCols) * sizeof(float), s, copy_gbs());
}

// ---- conv2d: im2col + GEMM against cuDNN on ResNet-18's convolutions ----

// One convolution of ResNet-18 on a batch of 32 ImageNet images (224 x 224), float32.
struct ConvShape {
  const char* name;
  int64_t c_in, c_out, hw, k, stride, pad;
};
constexpr int64_t kConvBatch = 32;
const ConvShape kResnetConvs[] = {
    {"conv1_7x7s2", 3, 64, 224, 7, 2, 3},   {"layer1_3x3", 64, 64, 56, 3, 1, 1},
    {"layer2_3x3s2", 64, 128, 56, 3, 2, 1}, {"layer2_down1x1", 64, 128, 56, 1, 2, 0},
    {"layer2_3x3", 128, 128, 28, 3, 1, 1},  {"layer3_3x3", 256, 256, 14, 3, 1, 1},
    {"layer4_3x3", 512, 512, 7, 3, 1, 1},
};
enum class ConvImpl { Im2col, Cudnn };

struct ConvProblem {
  ConvShape shape;
  Tensor x, w, dy;  // device
  int64_t out_hw;
  explicit ConvProblem(const ConvShape& s) : shape(s) {
    out_hw = (s.hw + 2 * s.pad - s.k) / s.stride + 1;
    x = device_randn({kConvBatch, s.c_in, s.hw, s.hw}, 11);
    w = device_randn({s.c_out, s.c_in, s.k, s.k}, 12) * (1.0 / std::sqrt(double(s.c_in * s.k * s.k)));
    dy = device_randn({kConvBatch, s.c_out, out_hw, out_hw}, 13);
  }
  double forward_flops() const {
    return 2.0 * double(kConvBatch * shape.c_out * out_hw * out_hw) * double(shape.c_in * shape.k * shape.k);
  }
  // y = conv(x, w): im2col + GEMM through nn::functional::conv2d with that algorithm
  // forced, or cuDNN through conv2d_cudnn.
  Tensor forward(ConvImpl impl, const Tensor& xx, const Tensor& ww) const {
    const kiln::IntList st{shape.stride, shape.stride}, pd{shape.pad, shape.pad};
    if (impl == ConvImpl::Cudnn) return kiln::conv2d_cudnn(xx, ww, st, pd, {1, 1}, 1);
    const kiln::ConvAlgo previous = kiln::conv2d_algo();  // restored: other benchmarks use Auto
    kiln::set_conv2d_algo(kiln::ConvAlgo::Im2col);
    Tensor y = kiln::nn::functional::conv2d(xx, ww, {}, st, pd, {1, 1}, 1);
    kiln::set_conv2d_algo(previous);
    return y;
  }
  // Forward, then backward of sum(y * dy) to x and w: 3x the forward's flops.
  void forward_backward(ConvImpl impl) const {
    Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
    forward(impl, xl, wl).backward(dy);
  }
};

ConvProblem& conv_problem(size_t i) {
  static std::vector<std::unique_ptr<ConvProblem>> problems(std::size(kResnetConvs));
  if (!problems[i]) problems[i] = std::make_unique<ConvProblem>(kResnetConvs[i]);
  return *problems[i];
}

// cuDNN's seconds per call (best of 5), measured once per shape and mode, after the two
// paths' outputs are compared; `why` says how they differ ("" when they agree within
// float32 rounding of sums of c_in k^2 terms).
struct CudnnFigure {
  double seconds = -1.0;
  std::string why;
};
const CudnnFigure& cudnn_figure(size_t i, bool backward) {
  static std::map<std::pair<size_t, bool>, CudnnFigure> figures;
  CudnnFigure& f = figures[{i, backward}];
  if (f.seconds >= 0.0) return f;
  f.seconds = 0.0;
  if (!kiln::cudnn_is_available()) {
    f.why = "cuDNN is not available in this build";
    return f;
  }
  ConvProblem& p = conv_problem(i);
  Tensor a = p.forward(ConvImpl::Im2col, p.x, p.w).to(Device::cpu());
  Tensor b = p.forward(ConvImpl::Cudnn, p.x, p.w).to(Device::cpu());
  const double diff = kiln::max(kiln::abs(a - b)).item(), scale = kiln::max(kiln::abs(a)).item();
  if (!(diff <= 1e-4 * (scale + 1.0))) {
    f.why = "im2col and cuDNN differ by " + std::to_string(diff) + " (largest |y| " + std::to_string(scale) + ")";
    return f;
  }
  EventTimer timer;
  double best = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep < 5; ++rep) {
    best = std::min(best, timer.seconds([&] {
      if (backward) {
        p.forward_backward(ConvImpl::Cudnn);
      } else {
        Tensor y = p.forward(ConvImpl::Cudnn, p.x, p.w);
      }
    }));
  }
  f.seconds = best;
  return f;
}

// Gpu/conv2d/<fwd | fwd_bwd>/<im2col | cudnn>/<layer>: GFLOP/s, and the fraction of
// cuDNN's rate (cuDNN's best time over this one's mean; about 1 for cuDNN itself).
void BM_GpuConv(benchmark::State& state, size_t i, bool backward, ConvImpl impl) {
  if (skip_without_device(state)) return;
  const CudnnFigure& reference = cudnn_figure(i, backward);
  if (!reference.why.empty()) {
    state.SkipWithError(reference.why.c_str());
    return;
  }
  ConvProblem& p = conv_problem(i);
  const double s = time_loop(state, [&] {
    if (backward) {
      p.forward_backward(impl);
    } else {
      Tensor y = p.forward(impl, p.x, p.w);
    }
  });
  const double flops = p.forward_flops() * (backward ? 3.0 : 1.0);
  state.counters["GFLOP/s"] = flops / s * 1e-9;
  state.counters["fraction"] = reference.seconds / s;
}

// ---- host -> device copies: pageable against pinned memory ----

constexpr int64_t kCopyFloats = int64_t(64) << 20;  // 256 MB

// Seconds of the pinned copy (best of 5), measured once: the pageable copy's reference.
double pinned_h2d_seconds() {
  static double seconds = -1.0;
  if (seconds >= 0.0) return seconds;
  Tensor host = kiln::full({kCopyFloats}, 1.5).pin_memory();
  EventTimer timer;
  Tensor device = host.to(Device::cuda(), true);
  seconds = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep < 5; ++rep)
    seconds = std::min(seconds, timer.seconds([&] { device = host.to(Device::cuda(), true); }));
  return seconds;
}

// Gpu/h2d/<pageable | pinned>/256MB: x.to(cuda) from ordinary memory (cudaMemcpy stages
// it through a driver buffer) and x.to(cuda, non_blocking) from pinned memory (one DMA).
// The fraction is of the pinned copy's rate.
void BM_GpuH2d(benchmark::State& state, bool pinned) {
  if (skip_without_device(state)) return;
  Tensor host = kiln::full({kCopyFloats}, 1.5);
  if (pinned) host = host.pin_memory();
  Tensor device;
  const double s = time_loop(state, [&] { device = host.to(Device::cuda(), /*non_blocking=*/pinned); });
  state.counters["GB/s"] = double(kCopyFloats) * sizeof(float) / s * 1e-9;
  state.counters["fraction"] = pinned_h2d_seconds() / s;
}

// Registers body as `name`, timed by events (manual time), in milliseconds. An exception
// (a kiln::Error from a failed CUDA call, say) skips that benchmark with its message
// instead of ending the whole run.
template <typename F>
void add_benchmark(const std::string& name, F body) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [body](benchmark::State& state) {
                                 try {
                                   body(state);
                                 } catch (const std::exception& e) {
                                   state.SkipWithError(e.what());
                                 }
                               })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

// Names: Gpu/gemm/<sgemm_kernelN | cublas>/4096, Gpu/copy/64M, Gpu/add/64M, ...,
// Gpu/conv2d/<fwd | fwd_bwd>/<im2col | cudnn>/<layer>, Gpu/h2d/<pageable | pinned>/256MB
int register_benchmarks() {
  const std::string size = std::to_string(kGemmSize);
  for (int v = 1; v <= kiln::cuda::kNumSgemmVariants; ++v) {
    add_benchmark("Gpu/gemm/" + std::string(kiln::cuda::sgemm_variant_name(v)) + "/" + size,
                  [v](benchmark::State& state) { BM_GpuGemmVariant(state, v); });
  }
  add_benchmark("Gpu/gemm/cublas/" + size, BM_GpuGemmCublas);
  add_benchmark("Gpu/copy/64M", BM_GpuCopy);
  add_benchmark("Gpu/add/64M", BM_GpuAdd);
  add_benchmark("Gpu/relu/64M", BM_GpuRelu);
  add_benchmark("Gpu/softmax/65536x1024", BM_GpuSoftmax);
  add_benchmark("Gpu/layer_norm/65536x1024", BM_GpuLayerNorm);
  for (bool backward : {false, true}) {
    for (size_t i = 0; i < std::size(kResnetConvs); ++i) {
      for (ConvImpl impl : {ConvImpl::Im2col, ConvImpl::Cudnn}) {
        const std::string name = std::string("Gpu/conv2d/") + (backward ? "fwd_bwd/" : "fwd/") +
                                 (impl == ConvImpl::Cudnn ? "cudnn/" : "im2col/") + kResnetConvs[i].name;
        add_benchmark(name, [i, backward, impl](benchmark::State& state) { BM_GpuConv(state, i, backward, impl); });
      }
    }
  }
  add_benchmark("Gpu/h2d/pageable/256MB", [](benchmark::State& state) { BM_GpuH2d(state, false); });
  add_benchmark("Gpu/h2d/pinned/256MB", [](benchmark::State& state) { BM_GpuH2d(state, true); });
  return 0;
}
[[maybe_unused]] const int kRegistered = register_benchmarks();

}  // namespace
