// Convolution as im2col + GEMM (or, where it is measured to win, Winograd from ops/conv.h
// or a single centre-tap GEMM), and pooling as im2col + a reduction over each window:
// forward and backward come from those ops (im2col's backward is col2im, and so on).
#include "nn/conv.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "core/autocast.h"
#include "nn/init.h"
#include "ops/binary.h"
#include "ops/conv.h"
#include "ops/conv_cudnn.h"
#include "ops/im2col.h"
#include "ops/index.h"
#include "ops/linalg.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "ops/view.h"

namespace kiln::nn {

namespace functional {

namespace {

void check_pair(const IntList& v, const char* op, const char* what, int64_t min) {
  KILN_CHECK(v.size() == 2, op, ": ", what, " must be a (h, w) pair, got ", v);
  KILN_CHECK(v[0] >= min && v[1] >= min, op, ": ", what, " must be at least ", min, ", got ", v);
}

void check_conv_args(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, int64_t in_channels,
                     int64_t out_channels, const char* op) {
  KILN_CHECK(x.dim() == 4, op, ": expected a 4-D input (N, C, H, W), got ", x.meta_str());
  KILN_CHECK(weight.dim() == 4, op, ": expected a 4-D weight, got ", weight.meta_str());
  KILN_CHECK(x.is_floating_point() && x.dtype() == weight.dtype(), op, ": input ", x.meta_str(), " and weight ",
             weight.meta_str(), " must be floating with the same dtype");
  KILN_CHECK(groups >= 1 && in_channels % groups == 0 && out_channels % groups == 0, op, ": groups = ", groups,
             " must divide both in_channels (", in_channels, ") and out_channels (", out_channels, ")");
  KILN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_channels), op, ": bias ", bias.meta_str(),
             " does not match out_channels = ", out_channels);
}

int64_t conv_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

Tensor add_channel_bias(const Tensor& y, const Tensor& bias) {
  return bias.defined() ? y + bias.reshape({1, bias.size(0), 1, 1}) : y;
}

// Note [conv2d algorithm]
// conv2d has four paths; conv2d_algo() (ops/conv.h, KILN_CONV_ALGO) can force im2col or
// Winograd. CUDA tensors go to cuDNN (ops/conv_cudnn.h) unless im2col is forced. On the
// CPU, Auto picks:
// - the centre tap when a 1x1 input gives a 1x1 output (groups 1): only the tap at
//   (ph / dh, pw / dw) meets the pixel, so y = x (N, C_in) @ w[:, :, tap]^T, 1/(kh kw) of
//   im2col's flops. ResNet-18's stage 4 on 32x32 inputs (N 32, 512 -> 512, 1x1): 0.18 ms
//   against 1.3 ms forward.
// - Winograd F(2x2, 3x3) for a float 3x3 convolution of stride 1 and dilation 1 (padding
//   at most 2) with at least kWinogradMinChannels input and output channels, an output of
//   at least 2 x 2 and at least kWinogradMinWork tiles x C_in x C_out (the multiply-adds
//   of its GEMMs over 16): 2.25x fewer multiplies than im2col's GEMM, forward and both
//   gradients, but more passes over memory and 16 GEMMs of depth C_in instead of one of
//   depth 9 C_in. Forward + backward on a grid (C = C_in = C_out 16 .. 128, maps 4x4 to
//   16x16, batch 1, 8, 32; bench/RESULTS.md, session 10; three of its shapes are in
//   bench/conv_bench.cpp): with 16 channels Winograd lost everywhere (0.35-0.91x
//   im2col's speed; its forward alone won up to 2x at batch 32); with 32 or more it won
//   from about 2^20 tiles x C^2 (1.04-1.74x; ResNet-18's stages 1-3 at batch 32 are
//   2^21), was even around 2^19 (0.81-1.17x) and lost below (batch 1 on 8x8 maps:
//   0.4-0.7x). Measured with bench/conv_bench.cpp on the 2-core Zen 4 (float32, padding
//   1, 2 threads, best of 2 runs, ms im2col / Winograd, forward then forward + backward):
//   N 32: 64ch 8x8 0.98 / 0.67 and 2.72 / 1.96, 128ch 4x4 0.91 / 0.63 and 2.50 / 1.64,
//   256ch 2x2 1.02 / 0.74 and 2.72 / 1.97, 64ch 32x32 20.8 / 10.7 and 51.6 / 31.7; N 8:
//   64ch 56x56 14.8 / 8.8 and 37.5 / 24.9, 128ch 28x28 11.1 / 7.1 and 31.4 / 20.2, 256ch
//   14x14 10.0 / 6.7 and 28.4 / 18.8. Before its transforms ran tiles side by side (Note
//   [Winograd transforms] in ops/cpu/winograd.cpp) and its weight gradient was Winograd
//   too, it lost at batch 32 and Auto never picked it. An output one row or column wide
//   would leave half of every tile unused.
// - im2col + GEMM everywhere else (inference at batch 32 on 16 channels, say, where only
//   the forward runs and Winograd would win, is left to KILN_CONV_ALGO=winograd).
enum class ConvPath { Im2col, Winograd, CentreTap, Cudnn };
constexpr int64_t kWinogradMinChannels = 32;  // Note [conv2d algorithm]
constexpr double kWinogradMinWork = double(1 << 20);  // tiles x C_in x C_out, the same Note

ConvPath conv_path(const Tensor& x, const Tensor& weight, const IntList& stride, const IntList& padding,
                   const IntList& dilation, int64_t groups, int64_t oh, int64_t ow) {
  const ConvAlgo algo = conv2d_algo();
  // CUDA: cuDNN unless im2col is forced (Note [cuDNN convolution] in cuda/conv_cudnn.cpp);
  // it takes float32 and float64, so the 16-bit floats stay on im2col + GEMM.
  if (x.device().is_cuda() && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64) &&
      algo != ConvAlgo::Im2col && cudnn_is_available())
    return ConvPath::Cudnn;
  if (algo == ConvAlgo::Im2col || groups != 1) return ConvPath::Im2col;
  const int64_t h = x.size(2), w = x.size(3);
  if (algo == ConvAlgo::Auto && h == 1 && w == 1 && oh == 1 && ow == 1 && padding[0] % dilation[0] == 0 &&
      padding[1] % dilation[1] == 0)
    return ConvPath::CentreTap;
  const bool fits = x.device().is_cpu() && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64) &&
                    weight.size(2) == 3 && weight.size(3) == 3 && stride[0] == 1 &&
                    stride[1] == 1 && dilation[0] == 1 && dilation[1] == 1 && padding[0] <= 2 && padding[1] <= 2;
  if (!fits) return ConvPath::Im2col;
  if (algo == ConvAlgo::Winograd) return ConvPath::Winograd;
  const int64_t c_in = x.size(1), c_out = weight.size(0), tiles = x.size(0) * ((oh + 1) / 2) * ((ow + 1) / 2);
  const bool winograd_wins = oh >= 2 && ow >= 2 && c_in >= kWinogradMinChannels && c_out >= kWinogradMinChannels &&
                             double(tiles) * double(c_in) * double(c_out) >= kWinogradMinWork;
  return winograd_wins ? ConvPath::Winograd : ConvPath::Im2col;
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const IntList& stride,
              const IntList& padding, const IntList& dilation, int64_t groups) {
  // Under autocast the convolution runs in the 16-bit dtype (Note [Autocast]).
  const Tensor x = autocast_to_lower(x_in), weight = autocast_to_lower(weight_in), bias = autocast_to_lower(bias_in);
  check_pair(stride, "conv2d", "stride", 1);
  check_pair(padding, "conv2d", "padding", 0);
  check_pair(dilation, "conv2d", "dilation", 1);
  KILN_CHECK(x.dim() == 4, "conv2d: expected a 4-D input (N, C, H, W), got ", x.meta_str());
  KILN_CHECK(weight.dim() == 4, "conv2d: expected a 4-D weight (C_out, C_in / groups, kh, kw), got ",
             weight.meta_str());
  const int64_t n = x.size(0), c_in = x.size(1), c_out = weight.size(0);
  const int64_t kh = weight.size(2), kw = weight.size(3);
  check_conv_args(x, weight, bias, groups, c_in, c_out, "conv2d");
  KILN_CHECK(weight.size(1) * groups == c_in, "conv2d: input ", x.meta_str(), " has ", c_in,
             " channels, but weight ", weight.meta_str(), " with groups = ", groups, " expects ",
             weight.size(1) * groups);
  const int64_t oh = conv_out_size(x.size(2), kh, stride[0], padding[0], dilation[0]);
  const int64_t ow = conv_out_size(x.size(3), kw, stride[1], padding[1], dilation[1]);
  KILN_CHECK(oh > 0 && ow > 0, "conv2d: the kernel (", kh, ", ", kw, ") with dilation ", dilation,
             " does not fit in the padded input ", x.meta_str(), " (padding ", padding, ")");
  switch (conv_path(x, weight, stride, padding, dilation, groups, oh, ow)) {
    case ConvPath::Winograd:
      return add_channel_bias(conv2d_winograd(x, weight, padding), bias);
    case ConvPath::Cudnn:
      return add_channel_bias(conv2d_cudnn(x, weight, stride, padding, dilation, groups), bias);
    case ConvPath::CentreTap: {
      // 1x1 in and out: only the tap (ph / dh, pw / dw) meets the pixel, the rest see padding.
      // The tap is one select of the (C_out, C_in, kh kw) view, so its gather forward and
      // its gradient's scatter backward are each one strided pass over the weight (two
      // narrows would scatter through two full-size temporaries in runs of kw values).
      const int64_t tap_index = padding[0] / dilation[0] * kw + padding[1] / dilation[1];
      Tensor tap = weight.reshape({c_out, c_in, kh * kw}).select(2, tap_index).contiguous();
      Tensor y = mm(x.reshape({n, c_in}), tap.t());
      return add_channel_bias(y.reshape({n, c_out, 1, 1}), bias);
    }
    case ConvPath::Im2col:
      break;
  }
  const int64_t k = c_in / groups * kh * kw, l = oh * ow;
  if (groups == 1) {
    // One GEMM over the whole batch, (C_out, K) @ (K, N * L), rather than N small ones
    // that each re-pack the weight: deep layers have few output pixels per image (L = 4
    // at ResNet-18's last stage on 32x32 inputs). im2col_batch writes the columns in
    // that GEMM's layout, so only y (C_out rows, the columns have K) is transposed to
    // (N, C_out, L), forward and backward.
    Tensor cols = im2col_batch(x, {kh, kw}, dilation, padding, stride);  // (K, N * L)
    Tensor y = mm(weight.reshape({c_out, k}), cols).reshape({c_out, n, l}).transpose(0, 1);
    return bias.defined() ? add_channel_bias(y.reshape({n, c_out, oh, ow}), bias)
                          : y.contiguous().reshape({n, c_out, oh, ow});
  }
  // Each group multiplies its own slice of channels of cols (N, C_in * kh * kw, L).
  Tensor cols = im2col(x, {kh, kw}, dilation, padding, stride);
  Tensor wg = weight.reshape({groups, c_out / groups, k});  // (G, C_out/G, K)
  Tensor y = matmul(wg, cols.reshape({n, groups, k, l}));   // (N, G, C_out/G, L)
  return add_channel_bias(y.reshape({n, c_out, oh, ow}), bias);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const IntList& stride,
              const char* padding_name, const IntList& dilation, int64_t groups) {
  std::string padding = padding_name;
  if (padding == "valid") return conv2d(x, weight, bias, stride, {0, 0}, dilation, groups);
  KILN_CHECK(padding == "same", "conv2d: padding must be 'same', 'valid' or a (h, w) pair, got '", padding, "'");
  check_pair(stride, "conv2d", "stride", 1);
  check_pair(dilation, "conv2d", "dilation", 1);
  KILN_CHECK(stride[0] == 1 && stride[1] == 1, "conv2d: padding='same' is not supported for strided convolutions");
  KILN_CHECK(weight.dim() == 4, "conv2d: expected a 4-D weight, got ", weight.meta_str());
  // Total padding dil * (k - 1) per dim; an odd total puts the extra at the end.
  int64_t th = dilation[0] * (weight.size(2) - 1), tw = dilation[1] * (weight.size(3) - 1);
  if (th % 2 == 0 && tw % 2 == 0) return conv2d(x, weight, bias, stride, {th / 2, tw / 2}, dilation, groups);
  Tensor padded = pad(x, {tw / 2, tw - tw / 2, th / 2, th - th / 2});
  return conv2d(padded, weight, bias, stride, {0, 0}, dilation, groups);
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  KILN_CHECK(x.dim() == 3, "conv1d: expected a 3-D input (N, C, L), got ", x.meta_str());
  KILN_CHECK(weight.dim() == 3, "conv1d: expected a 3-D weight (C_out, C_in / groups, k), got ", weight.meta_str());
  // A 1-D convolution is a 2-D one over a height-1 image.
  return conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {1, stride}, {0, padding}, {1, dilation}, groups)
      .squeeze(2);
}

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, const IntList& stride,
                        const IntList& padding, const IntList& output_padding, int64_t groups,
                        const IntList& dilation) {
  const Tensor x = autocast_to_lower(x_in), weight = autocast_to_lower(weight_in), bias = autocast_to_lower(bias_in);
  check_pair(stride, "conv_transpose2d", "stride", 1);
  check_pair(padding, "conv_transpose2d", "padding", 0);
  check_pair(output_padding, "conv_transpose2d", "output_padding", 0);
  check_pair(dilation, "conv_transpose2d", "dilation", 1);
  KILN_CHECK(x.dim() == 4, "conv_transpose2d: expected a 4-D input (N, C, H, W), got ", x.meta_str());
  KILN_CHECK(weight.dim() == 4, "conv_transpose2d: expected a 4-D weight (C_in, C_out / groups, kh, kw), got ",
             weight.meta_str());
  for (int i = 0; i < 2; ++i)
    KILN_CHECK(output_padding[size_t(i)] < stride[size_t(i)] || output_padding[size_t(i)] < dilation[size_t(i)],
               "conv_transpose2d: output_padding ", output_padding, " must be smaller than either stride ", stride,
               " or dilation ", dilation);
  const int64_t n = x.size(0), c_in = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t c_out = weight.size(1) * groups, kh = weight.size(2), kw = weight.size(3);
  check_conv_args(x, weight, bias, groups, c_in, c_out, "conv_transpose2d");
  KILN_CHECK(weight.size(0) == c_in, "conv_transpose2d: input ", x.meta_str(), " has ", c_in,
             " channels, but weight ", weight.meta_str(), " expects ", weight.size(0));
  const int64_t oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1;
  const int64_t ow = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1;
  KILN_CHECK(oh > 0 && ow > 0, "conv_transpose2d: the output size (", oh, ", ", ow, ") is not positive");
  // The transpose of conv2d's GEMM: cols = W^T x per group, then col2im sums the
  // overlapping patches into the output image.
  const int64_t cg = c_in / groups, k = c_out / groups * kh * kw;
  Tensor wg = weight.reshape({groups, cg, k}).transpose(1, 2);           // (G, K, C_in/G)
  Tensor cols = matmul(wg, x.reshape({n, groups, cg, h * w}));           // (N, G, K, H*W)
  Tensor y = col2im(cols.reshape({n, c_out * kh * kw, h * w}), {oh, ow}, {kh, kw}, dilation, padding, stride);
  return add_channel_bias(y, bias);
}

namespace {

// Treats a 3-D (C, H, W) input as a batch of one, as PyTorch's pooling does.
Tensor as_batched(const Tensor& x, const char* op, bool& unbatched) {
  KILN_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got ",
             x.meta_str());
  unbatched = x.dim() == 3;
  return unbatched ? x.unsqueeze(0) : x;
}

// The windows of x as (N, C, kh * kw, oh, ow)-ordered columns: (N, C, kh * kw, L).
Tensor windows(const Tensor& x, const IntList& kernel, const IntList& stride, const IntList& padding,
               const IntList& dilation, int64_t& oh, int64_t& ow) {
  oh = conv_out_size(x.size(2), kernel[0], stride[0], padding[0], dilation[0]);
  ow = conv_out_size(x.size(3), kernel[1], stride[1], padding[1], dilation[1]);
  Tensor cols = im2col(x, kernel, dilation, padding, stride);
  return cols.reshape({x.size(0), x.size(1), kernel[0] * kernel[1], oh * ow});
}

void check_pool_args(const IntList& kernel, const IntList& stride, const IntList& padding, const char* op) {
  check_pair(kernel, op, "kernel_size", 1);
  check_pair(stride, op, "stride", 1);
  check_pair(padding, op, "padding", 0);
  KILN_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op, ": padding ", padding,
             " must be at most half of kernel_size ", kernel);
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const IntList& kernel, IntList stride, const IntList& padding,
                  const IntList& dilation) {
  bool unbatched = false;
  Tensor xb = as_batched(x, "max_pool2d", unbatched);
  // One fused op (ops/pool.h); the gradient goes to the first maximum of each window, as in PyTorch.
  Tensor y = max_pool2d_with_indices(xb, kernel, stride, padding, dilation).values;
  return unbatched ? y.squeeze(0) : y;
}

Tensor avg_pool2d(const Tensor& x, const IntList& kernel, IntList stride, const IntList& padding) {
  if (stride.empty()) stride = kernel;
  check_pool_args(kernel, stride, padding, "avg_pool2d");
  bool unbatched = false;
  Tensor xb = as_batched(x, "avg_pool2d", unbatched);
  int64_t oh = 0, ow = 0;
  Tensor win = windows(xb, kernel, stride, padding, {1, 1}, oh, ow);
  KILN_CHECK(oh > 0 && ow > 0, "avg_pool2d: kernel ", kernel, " does not fit in ", x.meta_str());
  Tensor y = mean(win, {2}).reshape({xb.size(0), xb.size(1), oh, ow});
  return unbatched ? y.squeeze(0) : y;
}

Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  KILN_CHECK(x.dim() == 3, "max_pool1d: expected a 3-D input (N, C, L), got ", x.meta_str());
  return max_pool2d(x.unsqueeze(2), {1, kernel}, {1, stride < 0 ? kernel : stride}, {0, padding}, {1, dilation})
      .squeeze(2);
}

Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  KILN_CHECK(x.dim() == 3, "avg_pool1d: expected a 3-D input (N, C, L), got ", x.meta_str());
  return avg_pool2d(x.unsqueeze(2), {1, kernel}, {1, stride < 0 ? kernel : stride}, {0, padding}).squeeze(2);
}

Tensor adaptive_avg_pool2d(const Tensor& x, const IntList& output_size) {
  check_pair(output_size, "adaptive_avg_pool2d", "output_size", 1);
  bool unbatched = false;
  Tensor xb = as_batched(x, "adaptive_avg_pool2d", unbatched);
  const int64_t h = xb.size(2), w = xb.size(3), oh = output_size[0], ow = output_size[1];
  Tensor y;
  if (h % oh == 0 && w % ow == 0) {
    y = avg_pool2d(xb, {h / oh, w / ow});  // equal bins: one pooling call
  } else {
    TensorList rows;
    for (int64_t i = 0; i < oh; ++i) {
      int64_t h0 = i * h / oh, h1 = ((i + 1) * h + oh - 1) / oh;
      TensorList cells;
      for (int64_t j = 0; j < ow; ++j) {
        int64_t w0 = j * w / ow, w1 = ((j + 1) * w + ow - 1) / ow;
        cells.push_back(mean(xb.narrow(2, h0, h1 - h0).narrow(3, w0, w1 - w0), {2, 3}));
      }
      rows.push_back(stack(cells, -1));
    }
    y = stack(rows, -2);
  }
  return unbatched ? y.squeeze(0) : y;
}

}  // namespace functional

// ---- layers ----

namespace {
std::string pair_str(const IntList& v) { return repr_join("(", v[0], ", ", v[1], ")"); }

// PyTorch's conv init: kaiming_uniform(a = sqrt 5) on the weight, which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same range.
void init_conv(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(double(init::calculate_fans(weight).fan_in));
    init::uniform_(bias, -bound, bound);
  }
}
}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, IntList k, IntList s, IntList p, IntList d, int64_t g, bool with_bias,
               TensorOptions opts)
    : UnaryModule("Conv2d"), in_channels(in), out_channels(out), groups(g), kernel_size(std::move(k)),
      stride(std::move(s)), padding(std::move(p)), dilation(std::move(d)) {
  KILN_CHECK(kernel_size.size() == 2 && kernel_size[0] > 0 && kernel_size[1] > 0,
             "Conv2d: kernel_size must be a positive (h, w) pair, got ", kernel_size);
  KILN_CHECK(g > 0 && in % g == 0 && out % g == 0, "Conv2d: groups = ", g, " must divide in_channels (", in,
             ") and out_channels (", out, ")");
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({out, in / g, kernel_size[0], kernel_size[1]}, opts));
  bias = register_parameter("bias", with_bias ? empty({out}, opts) : Tensor());
  init_conv(weight, bias);
}

Conv2d::Conv2d(int64_t in, int64_t out, IntList k, IntList s, const char* p, IntList d, int64_t g, bool with_bias,
               TensorOptions opts)
    : Conv2d(in, out, std::move(k), std::move(s), IntList{0, 0}, std::move(d), g, with_bias, opts) {
  padding_mode = p;
  KILN_CHECK(padding_mode == "same" || padding_mode == "valid",
             "Conv2d: padding must be 'same', 'valid' or a (h, w) pair, got '", padding_mode, "'");
}

Tensor Conv2d::forward(const Tensor& x) {
  if (!padding_mode.empty())
    return functional::conv2d(x, weight, bias, stride, padding_mode.c_str(), dilation, groups);
  return functional::conv2d(x, weight, bias, stride, padding, dilation, groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = repr_join(in_channels, ", ", out_channels, ", kernel_size=", pair_str(kernel_size),
                      ", stride=", pair_str(stride));
  if (!padding_mode.empty()) s += ", padding=" + padding_mode;
  else if (padding[0] || padding[1]) s += ", padding=" + pair_str(padding);
  if (dilation[0] != 1 || dilation[1] != 1) s += ", dilation=" + pair_str(dilation);
  if (groups != 1) s += repr_join(", groups=", groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d, int64_t g, bool with_bias,
               TensorOptions opts)
    : UnaryModule("Conv1d"), in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p), dilation(d),
      groups(g) {
  KILN_CHECK(k > 0, "Conv1d: kernel_size must be positive, got ", k);
  KILN_CHECK(g > 0 && in % g == 0 && out % g == 0, "Conv1d: groups = ", g, " must divide in_channels (", in,
             ") and out_channels (", out, ")");
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({out, in / g, k}, opts));
  bias = register_parameter("bias", with_bias ? empty({out}, opts) : Tensor());
  init_conv(weight, bias);
}

Tensor Conv1d::forward(const Tensor& x) {
  return functional::conv1d(x, weight, bias, stride, padding, dilation, groups);
}

std::string Conv1d::extra_repr() const {
  std::string s = repr_join(in_channels, ", ", out_channels, ", kernel_size=(", kernel_size, ",), stride=(", stride, ",)");
  if (padding) s += repr_join(", padding=(", padding, ",)");
  if (dilation != 1) s += repr_join(", dilation=(", dilation, ",)");
  if (groups != 1) s += repr_join(", groups=", groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, IntList k, IntList s, IntList p, IntList op, int64_t g,
                                 bool with_bias, IntList d, TensorOptions opts)
    : UnaryModule("ConvTranspose2d"), in_channels(in), out_channels(out), groups(g), kernel_size(std::move(k)),
      stride(std::move(s)), padding(std::move(p)), output_padding(std::move(op)), dilation(std::move(d)) {
  KILN_CHECK(kernel_size.size() == 2 && kernel_size[0] > 0 && kernel_size[1] > 0,
             "ConvTranspose2d: kernel_size must be a positive (h, w) pair, got ", kernel_size);
  KILN_CHECK(g > 0 && in % g == 0 && out % g == 0, "ConvTranspose2d: groups = ", g, " must divide in_channels (",
             in, ") and out_channels (", out, ")");
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({in, out / g, kernel_size[0], kernel_size[1]}, opts));
  bias = register_parameter("bias", with_bias ? empty({out}, opts) : Tensor());
  init_conv(weight, bias);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return functional::conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = repr_join(in_channels, ", ", out_channels, ", kernel_size=", pair_str(kernel_size),
                      ", stride=", pair_str(stride));
  if (padding[0] || padding[1]) s += ", padding=" + pair_str(padding);
  if (output_padding[0] || output_padding[1]) s += ", output_padding=" + pair_str(output_padding);
  if (groups != 1) s += repr_join(", groups=", groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

MaxPool2d::MaxPool2d(IntList k, IntList s, IntList p, IntList d)
    : UnaryModule("MaxPool2d"), kernel_size(std::move(k)), stride(s.empty() ? kernel_size : std::move(s)),
      padding(std::move(p)), dilation(std::move(d)) {}
Tensor MaxPool2d::forward(const Tensor& x) {
  return functional::max_pool2d(x, kernel_size, stride, padding, dilation);
}
std::string MaxPool2d::extra_repr() const {
  return repr_join("kernel_size=", pair_str(kernel_size), ", stride=", pair_str(stride), ", padding=", pair_str(padding),
             ", dilation=", pair_str(dilation), ", ceil_mode=False");
}

AvgPool2d::AvgPool2d(IntList k, IntList s, IntList p)
    : UnaryModule("AvgPool2d"), kernel_size(std::move(k)), stride(s.empty() ? kernel_size : std::move(s)),
      padding(std::move(p)) {}
Tensor AvgPool2d::forward(const Tensor& x) { return functional::avg_pool2d(x, kernel_size, stride, padding); }
std::string AvgPool2d::extra_repr() const {
  return repr_join("kernel_size=", pair_str(kernel_size), ", stride=", pair_str(stride), ", padding=", pair_str(padding));
}

MaxPool1d::MaxPool1d(int64_t k, int64_t s, int64_t p, int64_t d)
    : UnaryModule("MaxPool1d"), kernel_size(k), stride(s < 0 ? k : s), padding(p), dilation(d) {}
Tensor MaxPool1d::forward(const Tensor& x) {
  return functional::max_pool1d(x, kernel_size, stride, padding, dilation);
}
std::string MaxPool1d::extra_repr() const {
  return repr_join("kernel_size=", kernel_size, ", stride=", stride, ", padding=", padding, ", dilation=", dilation,
             ", ceil_mode=False");
}

AvgPool1d::AvgPool1d(int64_t k, int64_t s, int64_t p)
    : UnaryModule("AvgPool1d"), kernel_size(k), stride(s < 0 ? k : s), padding(p) {}
Tensor AvgPool1d::forward(const Tensor& x) { return functional::avg_pool1d(x, kernel_size, stride, padding); }
std::string AvgPool1d::extra_repr() const {
  return repr_join("kernel_size=(", kernel_size, ",), stride=(", stride, ",), padding=(", padding, ",)");
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(IntList out) : UnaryModule("AdaptiveAvgPool2d"), output_size(std::move(out)) {}
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return functional::adaptive_avg_pool2d(x, output_size); }
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }

}  // namespace kiln::nn
