// The Winograd convolution op: checks, the Function whose backward is written with kiln
// ops (so it differentiates again), and the algorithm switch that nn/conv.cpp reads.
// Kernel: ops/cpu/winograd.cpp; the contract: ops/kernels/conv.h.
#include "ops/conv.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/im2col.h"
#include "ops/index.h"
#include "ops/kernels/conv.h"
#include "ops/linalg.h"

namespace kiln {

KILN_DEFINE_STUB(conv2d_winograd_filter_stub, "conv2d_winograd", Conv2dWinogradFilterKernel);
KILN_DEFINE_STUB(conv2d_winograd_stub, "conv2d_winograd", Conv2dWinogradKernel);
KILN_DEFINE_STUB(conv2d_winograd_weight_stub, "conv2d_winograd", Conv2dWinogradWeightKernel);

namespace {

struct Conv2dWinograd : Function<Conv2dWinograd> {
  static constexpr const char* kName = "conv2d_winograd";
  int64_t pad_h = 0, pad_w = 0;
  Tensor filters;  // the weight's transformed filters, which the backward reuses

  Tensor forward(const Tensor& x, const Tensor& weight, int64_t ph, int64_t pw) {
    pad_h = ph, pad_w = pw;
    const int64_t oh = x.size(2) + 2 * ph - 2, ow = x.size(3) + 2 * pw - 2;
    Tensor y = empty({x.size(0), weight.size(0), oh, ow}, options_of(x));
    filters = conv2d_winograd_filter_stub(x.device(), weight.contiguous());
    conv2d_winograd_stub(x.device(), y, x.contiguous(), filters, ph, pw, /*transposed=*/false);
    save(x, weight);
    return y;
  }

  // y[n, o, i, j] = sum_{c, a, b} x[n, c, i + a - ph, j + b - pw] w[o, c, a, b], so
  //   dx[n, c, p, q] = sum_{o, a, b} dy[n, o, p - a + ph, q - b + pw] w[o, c, a, b],
  // a 3x3 convolution of dy with w'[c, o, a, b] = w[o, c, 2 - a, 2 - b] and padding 2 - ph
  // (from the forward's transformed filters, Note [Transposed Winograd filters] in
  // ops/cpu/winograd.cpp; under create_graph w' is built with kiln ops);
  //   dw[o, c, a, b] = sum_{n, i, j} dy[n, o, i, j] x[n, c, i + a - ph, j + b - pw],
  // by Winograd too (Note [Winograd weight gradient] in ops/cpu/winograd.cpp). Under
  // create_graph both are kiln ops instead (dw the product dy (C_out, N L) @
  // im2col_batch(x)^T (N L, C_in 9)), which record their own graph, so the double backward
  // comes for free.
  TensorList backward(const Tensor& dy) {
    auto [x, weight] = saved<2>();
    const bool differentiable = GradMode::is_enabled();  // create_graph: kiln ops
    Tensor dx, dw;
    if (needs_input_grad(0) && differentiable) {
      Tensor reversed = tensor<int64_t>({2, 1, 0});
      Tensor flipped = index_select(index_select(weight, 2, reversed), 3, reversed);
      dx = conv2d_winograd(dy, flipped.transpose(0, 1), {2 - pad_h, 2 - pad_w});
    } else if (needs_input_grad(0)) {  // the same from the forward's filters, transposed
      dx = empty(x.shape(), options_of(x));
      conv2d_winograd_stub(dy.device(), dx, dy.contiguous(), filters, 2 - pad_h, 2 - pad_w, /*transposed=*/true);
    }
    if (needs_input_grad(1) && differentiable) {
      const int64_t n = x.size(0), c_out = weight.size(0), l = dy.size(2) * dy.size(3);
      Tensor cols = im2col_batch(x, {3, 3}, {1, 1}, {pad_h, pad_w}, {1, 1});  // (C_in 9, N L)
      dw = mm(dy.transpose(0, 1).reshape({c_out, n * l}), cols.t()).reshape(weight.shape());
    } else if (needs_input_grad(1)) {  // the same sums by Winograd (Note [Winograd weight gradient])
      dw = empty(weight.shape(), options_of(weight));
      conv2d_winograd_weight_stub(x.device(), dw, x.contiguous(), dy.contiguous(), pad_h, pad_w);
    }
    return {dx, dw};
  }
};

ConvAlgo algo_from_env() {
  const char* env = std::getenv("KILN_CONV_ALGO");
  const std::string value = env ? env : "auto";
  if (value == "auto") return ConvAlgo::Auto;
  if (value == "im2col") return ConvAlgo::Im2col;
  KILN_CHECK(value == "winograd", "KILN_CONV_ALGO: expected auto, im2col or winograd, got '", value, "'");
  return ConvAlgo::Winograd;
}

std::atomic<int>& algo_setting() {
  static std::atomic<int> setting{int(algo_from_env())};
  return setting;
}

}  // namespace

Tensor conv2d_winograd(const Tensor& x, const Tensor& weight, const IntList& padding) {
  const char* op = "conv2d_winograd";
  KILN_CHECK(x.dim() == 4, op, ": expected a 4-D input (N, C_in, H, W), got ", x.meta_str());
  KILN_CHECK(weight.dim() == 4 && weight.size(1) == x.size(1) && weight.size(2) == 3 && weight.size(3) == 3, op,
             ": expected a weight (C_out, ", x.size(1), ", 3, 3) for the input ", x.meta_str(), ", got ",
             weight.meta_str());
  KILN_CHECK(x.is_floating_point() && x.dtype() == weight.dtype(), op, ": input ", x.meta_str(), " and weight ",
             weight.meta_str(), " must be floating with the same dtype");
  KILN_CHECK(x.device() == weight.device() && x.device().is_cpu(), op, ": expected input and weight on the cpu, got ",
             x.meta_str(), " and ", weight.meta_str());
  KILN_CHECK(padding.size() == 2 && padding[0] >= 0 && padding[0] <= 2 && padding[1] >= 0 && padding[1] <= 2, op,
             ": expected padding as an (h, w) pair of values in 0..2, got ", padding);
  KILN_CHECK(x.size(2) + 2 * padding[0] >= 3 && x.size(3) + 2 * padding[1] >= 3, op,
             ": the 3x3 kernel does not fit in the input ", x.meta_str(), " padded by ", padding);
  return apply<Conv2dWinograd>(x, weight, padding[0], padding[1]);
}

ConvAlgo conv2d_algo() { return ConvAlgo(algo_setting().load()); }

void set_conv2d_algo(ConvAlgo algo) { algo_setting().store(int(algo)); }

}  // namespace kiln
