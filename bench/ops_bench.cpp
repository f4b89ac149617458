// Single ops side by side with libtorch: matmul, conv2d, softmax, cross_entropy, dropout,
// layer_norm, batch_norm, max_pool2d and a 2-layer LSTM, forward only (fwd) and forward +
// backward (fwdbwd), on the shapes the training benchmarks (bench/train_bench.cpp) spend
// their time in. Pairing as in bench/paired.h; the peer is bench/peers/torch_ops.cpp. Run:
//   build/release/bench/kiln_bench --benchmark_filter=Ops/
#include <benchmark/benchmark.h>

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "bench/paired.h"
#include "kiln.h"
#include "nn/conv.h"
#include "nn/functional.h"
#include "nn/loss.h"
#include "nn/norm.h"
#include "nn/rnn.h"
#include "ops/cpu/parallel.h"
#ifdef KILN_BENCH_HAVE_TORCH
#include "bench/peers/torch_ops.h"
#include "bench/peers/torch_peer.h"
#endif

namespace kiln::bench {
namespace {

// The kiln side of one benchmark, mirroring torch_ops::Op: forward() computes the op
// from tensors it captured; with backward, `leaves` require grad, and each step drops
// their .grad, runs the forward and back-propagates a fixed random output gradient.
class KilnOp {
 public:
  KilnOp(TensorList leaves, std::function<Tensor()> forward, bool backward)
      : leaves_(std::move(leaves)), forward_(std::move(forward)), backward_(backward) {
    if (!backward_) return;
    for (Tensor& t : leaves_) t.requires_grad_(true);
    NoGradGuard no_grad;
    dout_ = randn_like(forward_());
  }
  double step() {
    if (!backward_) {
      NoGradGuard no_grad;
      return forward_().data_ptr<float>()[0];
    }
    for (Tensor& t : leaves_) t.zero_grad();
    forward_().backward(dout_);
    return leaves_.front().grad().data_ptr<float>()[0];
  }

 private:
  TensorList leaves_;
  std::function<Tensor()> forward_;
  bool backward_;
  Tensor dout_;
};

#ifdef KILN_BENCH_HAVE_TORCH
using Peer = std::unique_ptr<torch_ops::Op>;
#define KILN_OPS_PEER(expr) make_peer([&] { return torch_ops::expr; })
#else
using Peer = std::unique_ptr<NoPeer>;
#define KILN_OPS_PEER(expr) Peer()
#endif

const char* pass_name(bool backward) { return backward ? "fwdbwd" : "fwd"; }

// Times kiln's op against the peer's, then adds kiln's rate: `work` units per call
// (flops or bytes) reported as `unit` per second, in 1e9s.
void run_op(benchmark::State& state, KilnOp& op, const Peer& peer, const char* unit, double work) {
  run_paired(state, [&] { return op.step(); }, peer);
  const double seconds = state.counters["kiln_ms"].value / 1e3;
  if (seconds > 0) state.counters[unit] = work / seconds / 1e9;
}

// (m, k) @ (k, n): 2 m n k flops forward; backward adds da = dout b^T and db = a^T dout,
// as many again each.
void BM_Matmul(benchmark::State& state, bool backward, int64_t m, int64_t k, int64_t n) {
  manual_seed(0);
  Tensor a = randn({m, k}), b = randn({k, n});
  KilnOp op({a, b}, [a, b] { return matmul(a, b); }, backward);
  Peer peer = KILN_OPS_PEER(matmul(m, k, n, backward));
  run_op(state, op, peer, "GFLOP/s", (backward ? 3 : 1) * 2.0 * double(m) * double(n) * double(k));
}

// x: (batch, c_in, size, size) with a (c_out, c_in, kernel, kernel) filter, padding
// kernel / 2, no bias. Flops as a direct convolution: 2 per multiply-add, backward twice
// the forward (input and weight gradients).
void BM_Conv2d(benchmark::State& state, bool backward, int64_t batch, int64_t c_in, int64_t c_out, int64_t size,
               int64_t kernel, int64_t stride) {
  manual_seed(0);
  Tensor x = randn({batch, c_in, size, size}), w = randn({c_out, c_in, kernel, kernel});
  const int64_t pad = kernel / 2, out = (size + 2 * pad - kernel) / stride + 1;
  KilnOp op(
      {x, w}, [x, w, stride, pad] { return nn::functional::conv2d(x, w, {}, {stride, stride}, {pad, pad}); },
      backward);
  Peer peer = KILN_OPS_PEER(conv2d(batch, c_in, c_out, size, kernel, stride, backward));
  const double flops = 2.0 * double(batch * c_out * out * out) * double(c_in * kernel * kernel);
  run_op(state, op, peer, "GFLOP/s", (backward ? 3 : 1) * flops);
}

// Memory-bound row ops on (rows, cols) float32: the forward reads x and writes y (2
// passes over the data), the backward reads y or x and dout and writes dx (3 more).
void BM_Softmax(benchmark::State& state, bool backward, int64_t rows, int64_t cols) {
  manual_seed(0);
  Tensor x = randn({rows, cols});
  KilnOp op({x}, [x] { return softmax(x, -1); }, backward);
  Peer peer = KILN_OPS_PEER(softmax(rows, cols, backward));
  run_op(state, op, peer, "GB/s", (backward ? 5 : 2) * 4.0 * double(rows * cols));
}

// The MLP's loss: cross_entropy (mean) of (rows, classes) logits against int64 targets,
// log_softmax and nll_loss as one op each. Reported as the logits' bytes read per second.
void BM_CrossEntropy(benchmark::State& state, bool backward, int64_t rows, int64_t classes) {
  manual_seed(0);
  Tensor x = randn({rows, classes}), y = randint(0, classes, {rows});
  KilnOp op({x}, [x, y] { return nn::functional::cross_entropy(x, y); }, backward);
  Peer peer = KILN_OPS_PEER(cross_entropy(rows, classes, backward));
  run_op(state, op, peer, "GB/s", (backward ? 2 : 1) * 4.0 * double(rows * classes));
}

// The MLP's dropout (p = 0.5, training) on its (batch, hidden) activations: the forward
// reads x and writes the output and the mask (3 passes), the backward reads the output
// gradient and the mask and writes dx (3 more).
void BM_Dropout(benchmark::State& state, bool backward, int64_t rows, int64_t cols) {
  manual_seed(0);
  Tensor x = randn({rows, cols});
  KilnOp op({x}, [x] { return nn::functional::dropout(x, 0.5, true); }, backward);
  Peer peer = KILN_OPS_PEER(dropout(rows, cols, backward));
  run_op(state, op, peer, "GB/s", (backward ? 6 : 3) * 4.0 * double(rows * cols));
}

void BM_LayerNorm(benchmark::State& state, bool backward, int64_t rows, int64_t cols) {
  manual_seed(0);
  Tensor x = randn({rows, cols}), w = ones({cols}), b = zeros({cols});
  KilnOp op(
      {x, w, b}, [x, w, b, cols] { return nn::functional::layer_norm(x, {cols}, w, b, 1e-5); }, backward);
  Peer peer = KILN_OPS_PEER(layer_norm(rows, cols, backward));
  run_op(state, op, peer, "GB/s", (backward ? 5 : 2) * 4.0 * double(rows * cols));
}

// Training-mode batch norm on (batch, channels, size, size) float32 with weight and bias:
// the forward reads x twice (statistics, then normalisation) and writes y (3 passes), the
// backward reads x and dout twice and writes dx (5 more).
void BM_BatchNorm(benchmark::State& state, bool backward, int64_t batch, int64_t channels, int64_t size) {
  manual_seed(0);
  Tensor x = randn({batch, channels, size, size}), w = ones({channels}), b = zeros({channels});
  Tensor running_mean = zeros({channels}), running_var = ones({channels});
  KilnOp op(
      {x, w, b},
      [x, w, b, running_mean, running_var] {
        return nn::functional::batch_norm(x, running_mean, running_var, w, b, true, 0.1, 1e-5);
      },
      backward);
  Peer peer = KILN_OPS_PEER(batch_norm(batch, channels, size, backward));
  run_op(state, op, peer, "GB/s", (backward ? 8 : 3) * 4.0 * double(batch * channels * size * size));
}

// ResNet's stem max pooling (3x3, stride 2, padding 1) on (batch, channels, size, size)
// float32: the forward reads x and writes the values and int64 indices (3 floats' worth per
// output), the backward reads dy and the indices and writes dx.
void BM_MaxPool2d(benchmark::State& state, bool backward, int64_t batch, int64_t channels, int64_t size) {
  manual_seed(0);
  Tensor x = randn({batch, channels, size, size});
  KilnOp op({x}, [x] { return nn::functional::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}); }, backward);
  Peer peer = KILN_OPS_PEER(max_pool2d(batch, channels, size, backward));
  const double in = double(batch * channels * size * size), out = in / 4;
  run_op(state, op, peer, "GB/s", 4.0 * (in + 3 * out + (backward ? in + 4 * out : 0)));
}

// nn::LSTM over x: (seq, batch, input). Flops counted for the gate GEMMs only, per step
// and layer 2 batch 4h (in + h), backward twice that.
void BM_Lstm(benchmark::State& state, bool backward, int64_t seq, int64_t batch, int64_t input, int64_t hidden,
             int64_t layers) {
  manual_seed(0);
  auto lstm = std::make_shared<nn::LSTM>(input, hidden, nn::RNNOptions{.num_layers = layers});
  Tensor x = randn({seq, batch, input});
  KilnOp op(lstm->parameters(), [lstm, x] { return lstm->forward(x).output; }, backward);
  Peer peer = KILN_OPS_PEER(lstm(seq, batch, input, hidden, layers, backward));
  double flops = 0;
  for (int64_t l = 0; l < layers; ++l)
    flops += 2.0 * double(seq * batch * 4 * hidden) * double((l == 0 ? input : hidden) + hidden);
  run_op(state, op, peer, "GFLOP/s", (backward ? 3 : 1) * flops);
}

std::string dims(std::initializer_list<int64_t> sizes) {
  std::string s;
  for (int64_t v : sizes) {
    if (!s.empty()) s += 'x';
    s += std::to_string(v);
  }
  return s;
}

// Ops/<op>/<fwd|fwdbwd>/<shape>, times in milliseconds from the manual (wall) clock.
template <typename... Args>
void add(const std::string& op, const std::string& shape, void (*fn)(benchmark::State&, bool, Args...),
         std::type_identity_t<Args>... args) {
  for (bool backward : {false, true})
    benchmark::RegisterBenchmark(("Ops/" + op + "/" + pass_name(backward) + "/" + shape).c_str(), fn, backward,
                                 args...)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
}

int register_all() {
  // The MLP's first layer, a large square, one LSTM step's recurrent GEMM (batch 64, h 128).
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{128, 784, 256}, {1024, 1024, 1024}, {64, 128, 512}})
    add("matmul", dims({m, k, n}), BM_Matmul, m, k, n);
  // ResNet-18 on 32x32 images, batch 32: the 3x3 convs of stages 1-3 (after the stem's
  // stride 2 and max-pool), stage 2's 1x1 stride-2 downsample, and a 3x3 at full size.
  add("conv2d", "n32_c64_8x8_k3", BM_Conv2d, 32, 64, 64, 8, 3, 1);
  add("conv2d", "n32_c128_4x4_k3", BM_Conv2d, 32, 128, 128, 4, 3, 1);
  add("conv2d", "n32_c256_2x2_k3", BM_Conv2d, 32, 256, 256, 2, 3, 1);
  add("conv2d", "n32_c64to128_8x8_k1s2", BM_Conv2d, 32, 64, 128, 8, 1, 2);
  add("conv2d", "n32_c64_32x32_k3", BM_Conv2d, 32, 64, 64, 32, 3, 1);
  // The transformer benchmark's rows (batch 16 x sequence 128, d 256) and a large square.
  const std::pair<int64_t, int64_t> rows_cols[] = {{16 * 128, 256}, {4096, 4096}};
  for (auto [rows, cols] : rows_cols) add("softmax", dims({rows, cols}), BM_Softmax, rows, cols);
  for (auto [rows, cols] : rows_cols) add("layer_norm", dims({rows, cols}), BM_LayerNorm, rows, cols);
  // The MLP's loss on its (128, 10) logits and its dropout on the (128, 256) activations.
  add("cross_entropy", dims({128, 10}), BM_CrossEntropy, 128, 10);
  add("dropout", dims({128, 256}), BM_Dropout, 128, 256);
  // ResNet-18's batch norms at batch 32 on 32x32 images: full size, and stage 1 (8x8).
  add("batch_norm", "n32_c64_32x32", BM_BatchNorm, 32, 64, 32);
  add("batch_norm", "n32_c64_8x8", BM_BatchNorm, 32, 64, 8);
  add("batch_norm", "n32_c256_2x2", BM_BatchNorm, 32, 256, 2);  // small planes: rows, not planes
  add("batch_norm", "n32_c512_1x1", BM_BatchNorm, 32, 512, 1);
  // ResNet-18's stem pooling at batch 32 on 32x32 images.
  add("max_pool2d", "n32_c64_16x16", BM_MaxPool2d, 32, 64, 16);
  // The training benchmark's LSTM: 2 layers, hidden 128, input 32, 60 steps, batch 64.
  add("lstm", "l2_h128_i32_t60_b64", BM_Lstm, 60, 64, 32, 128, 2);
  return 0;
}

[[maybe_unused]] const int registered = register_all();

}  // namespace
}  // namespace kiln::bench
