// libtorch versions of the single ops timed in bench/ops_bench.cpp: each builds its
// inputs, a forward closure and (for backward) a fixed output gradient, the same
// arguments as the kiln side so that both do the same arithmetic.
#include "bench/peers/torch_ops.h"

#include <torch/torch.h>

#include <functional>
#include <utility>
#include <vector>

namespace kiln::bench::torch_ops {

namespace {

// forward() computes the op from tensors it captured; `leaves` are those of them that
// receive gradients when backward is on.
class ClosureOp : public Op {
 public:
  ClosureOp(std::vector<torch::Tensor> leaves, std::function<torch::Tensor()> forward, bool backward)
      : leaves_(std::move(leaves)), forward_(std::move(forward)), backward_(backward) {
    if (!backward_) return;
    for (torch::Tensor& t : leaves_) t.requires_grad_(true);
    torch::NoGradGuard no_grad;
    dout_ = torch::randn_like(forward_());
  }
  double step() override {
    if (!backward_) {
      torch::NoGradGuard no_grad;
      return forward_().data_ptr<float>()[0];
    }
    for (torch::Tensor& t : leaves_) t.mutable_grad().reset();
    forward_().backward(dout_);
    return leaves_.front().grad().data_ptr<float>()[0];
  }

 private:
  std::vector<torch::Tensor> leaves_;
  std::function<torch::Tensor()> forward_;
  bool backward_;
  torch::Tensor dout_;
};

}  // namespace

std::unique_ptr<Op> matmul(int64_t m, int64_t k, int64_t n, bool backward) {
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({m, k}), b = torch::randn({k, n});
  return std::make_unique<ClosureOp>(std::vector{a, b}, [a, b] { return torch::matmul(a, b); }, backward);
}

std::unique_ptr<Op> conv2d(int64_t batch, int64_t c_in, int64_t c_out, int64_t size, int64_t kernel, int64_t stride,
                           bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({batch, c_in, size, size}), w = torch::randn({c_out, c_in, kernel, kernel});
  return std::make_unique<ClosureOp>(
      std::vector{x, w}, [x, w, stride, kernel] { return torch::conv2d(x, w, {}, stride, kernel / 2); }, backward);
}

std::unique_ptr<Op> softmax(int64_t rows, int64_t cols, bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({rows, cols});
  return std::make_unique<ClosureOp>(std::vector{x}, [x] { return torch::softmax(x, -1); }, backward);
}

std::unique_ptr<Op> cross_entropy(int64_t rows, int64_t classes, bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({rows, classes}), y = torch::randint(0, classes, {rows});
  return std::make_unique<ClosureOp>(
      std::vector{x}, [x, y] { return torch::nn::functional::cross_entropy(x, y); }, backward);
}

std::unique_ptr<Op> dropout(int64_t rows, int64_t cols, bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({rows, cols});
  return std::make_unique<ClosureOp>(std::vector{x}, [x] { return torch::dropout(x, 0.5, true); }, backward);
}

std::unique_ptr<Op> layer_norm(int64_t rows, int64_t cols, bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({rows, cols}), w = torch::ones({cols}), b = torch::zeros({cols});
  return std::make_unique<ClosureOp>(
      std::vector{x, w, b}, [x, w, b, cols] { return torch::layer_norm(x, {cols}, w, b, 1e-5); }, backward);
}

std::unique_ptr<Op> batch_norm(int64_t batch, int64_t channels, int64_t size, bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({batch, channels, size, size}), w = torch::ones({channels}),
                b = torch::zeros({channels});
  torch::Tensor running_mean = torch::zeros({channels}), running_var = torch::ones({channels});
  return std::make_unique<ClosureOp>(
      std::vector{x, w, b},
      [x, w, b, running_mean, running_var] {
        return torch::batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5, false);
      },
      backward);
}

std::unique_ptr<Op> max_pool2d(int64_t batch, int64_t channels, int64_t size, bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({batch, channels, size, size});
  return std::make_unique<ClosureOp>(
      std::vector{x}, [x] { return torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}); }, backward);
}

std::unique_ptr<Op> lstm(int64_t seq, int64_t batch, int64_t input, int64_t hidden, int64_t layers, bool backward) {
  torch::manual_seed(0);
  torch::nn::LSTM layer(torch::nn::LSTMOptions(input, hidden).num_layers(layers));
  torch::Tensor x = torch::randn({seq, batch, input});
  return std::make_unique<ClosureOp>(
      layer->parameters(), [layer, x]() mutable { return std::get<0>(layer->forward(x)); }, backward);
}

}  // namespace kiln::bench::torch_ops
