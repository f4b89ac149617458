// The libtorch peer of bench/ops_bench.cpp: single ops (matmul, conv2d, softmax,
// cross_entropy, dropout, layer_norm, batch_norm, max_pool2d, a stacked LSTM) on fixed
// random inputs, forward only or forward and backward. Compiled only with libtorch
// (KILN_BENCH_HAVE_TORCH); no torch includes here.
#pragma once

#include <cstdint>
#include <memory>

namespace kiln::bench::torch_ops {

// One call of the op per step(). Without backward, the forward runs under
// torch::NoGradGuard. With backward, the inputs marked below require grad; each step
// drops their .grad (set to none, as kiln's zero_grad), runs the forward and calls
// backward with a fixed random output gradient made at construction. step() returns
// one element of the result (or of the first input's gradient) so nothing is elided.
class Op {
 public:
  virtual ~Op() = default;
  virtual double step() = 0;
};

// The shapes match bench/ops_bench.cpp's kiln side; float32 throughout, seeded with 0.
// a: (m, k) @ b: (k, n); both get gradients.
std::unique_ptr<Op> matmul(int64_t m, int64_t k, int64_t n, bool backward);
// x: (batch, c_in, size, size), weight: (c_out, c_in, kernel, kernel), no bias,
// padding kernel / 2; x and weight get gradients.
std::unique_ptr<Op> conv2d(int64_t batch, int64_t c_in, int64_t c_out, int64_t size, int64_t kernel, int64_t stride,
                           bool backward);
// Over the last dim of (rows, cols); x gets a gradient.
std::unique_ptr<Op> softmax(int64_t rows, int64_t cols, bool backward);
// Over the last dim of (rows, cols) with weight and bias (cols), eps 1e-5; all three get
// gradients.
std::unique_ptr<Op> layer_norm(int64_t rows, int64_t cols, bool backward);
// Training-mode batch norm on (batch, channels, size, size) with weight and bias and
// running statistics (momentum 0.1, eps 1e-5); x, weight and bias get gradients.
std::unique_ptr<Op> batch_norm(int64_t batch, int64_t channels, int64_t size, bool backward);
// max_pool2d(kernel 3, stride 2, padding 1) on (batch, channels, size, size), ResNet's
// stem pooling; x gets a gradient.
std::unique_ptr<Op> max_pool2d(int64_t batch, int64_t channels, int64_t size, bool backward);
// cross_entropy (mean) of (rows, classes) logits against int64 targets; the logits get
// a gradient.
std::unique_ptr<Op> cross_entropy(int64_t rows, int64_t classes, bool backward);
// dropout(p = 0.5, training) on (rows, cols); x gets a gradient.
std::unique_ptr<Op> dropout(int64_t rows, int64_t cols, bool backward);
// torch::nn::LSTM(input, hidden, num_layers = layers) on x: (seq, batch, input), zero
// initial state; the output sequence is the result, the parameters get gradients (x,
// being data, does not).
std::unique_ptr<Op> lstm(int64_t seq, int64_t batch, int64_t input, int64_t hidden, int64_t layers, bool backward);

}  // namespace kiln::bench::torch_ops
