// native_layer_norm and native_batch_norm: the Functions around the fused kernels
// (ops/cpu/norm.cpp, ops/cpu/batch_norm.cpp), and the same backwards written with kiln
// ops for create_graph.
#include "ops/norm.h"

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/norm.h"
#include "ops/reduce.h"
#include "ops/unary.h"
#include "ops/view.h"

namespace kiln {

KILN_DEFINE_STUB(layer_norm_stub, "layer_norm", LayerNormKernel);
KILN_DEFINE_STUB(layer_norm_backward_stub, "layer_norm", LayerNormBackwardKernel);
KILN_DEFINE_STUB(batch_norm_stats_stub, "batch_norm", BatchNormStatsKernel);
KILN_DEFINE_STUB(batch_norm_stub, "batch_norm", BatchNormKernel);
KILN_DEFINE_STUB(batch_norm_backward_stub, "batch_norm", BatchNormBackwardKernel);

namespace {

struct NativeLayerNorm : Function<NativeLayerNorm> {
  static constexpr const char* kName = "layer_norm";
  int64_t rows = 0, cols = 0;
  double eps = 0;
  Shape bias_shape;
  Tensor forward(const Tensor& x_in, const Tensor& weight, const Tensor& bias, int64_t normalized_dims, double eps_) {
    eps = eps_;
    if (bias.defined()) bias_shape = bias.shape();
    cols = 1;
    for (int64_t d = x_in.dim() - normalized_dims; d < x_in.dim(); ++d) cols *= x_in.size(d);
    rows = cols == 0 ? 0 : x_in.numel() / cols;
    Tensor x = x_in.contiguous().reshape({rows, cols});
    Tensor y = empty({rows, cols}, options_of(x));
    Tensor mean = empty({rows}, options_of(x)), rstd = empty({rows}, options_of(x));
    layer_norm_stub(x.device(), y, mean, rstd, x, weight.defined() ? weight.contiguous() : weight,
                    bias.defined() ? bias.contiguous() : bias, eps);
    save(x_in, weight, mean, rstd);
    return y.reshape(x_in.shape());
  }

  TensorList backward(const Tensor& g) {
    auto [x_in, weight, mean, rstd] = saved<4>();
    const bool has_weight = weight.defined();
    Tensor x = x_in.reshape({rows, cols}), dy = g.reshape({rows, cols});
    if (!GradMode::is_enabled()) {
      Tensor dx = empty({rows, cols}, options_of(x));
      Tensor dweight = has_weight && needs_input_grad(1) ? empty({cols}, options_of(x)) : Tensor();
      Tensor dbias = needs_input_grad(2) ? empty({cols}, options_of(x)) : Tensor();
      layer_norm_backward_stub(x.device(), dx, dweight, dbias, dy.contiguous(), x.contiguous(), mean, rstd,
                               has_weight ? weight.contiguous() : weight);
      return {dx.reshape(x_in.shape()), dweight.defined() ? dweight.reshape(weight.shape()) : Tensor(),
              dbias.defined() ? dbias.reshape(bias_shape) : Tensor()};
    }
    // create_graph: x_hat = (x - mean) rstd, dxh = dy * w,
    // dx = rstd (dxh - mean(dxh) - x_hat mean(dxh x_hat)), dw = sum(dy x_hat), db = sum(dy),
    // with the statistics recomputed by ops so that they too are differentiated.
    Tensor mu = kiln::mean(x, {1}, true), inv = rsqrt(var(x, {1}, /*unbiased=*/false, true) + eps);
    Tensor xhat = (x - mu) * inv;
    Tensor dxh = has_weight ? dy * weight.reshape({cols}) : dy;
    Tensor dx = inv * (dxh - kiln::mean(dxh, {1}, true) - xhat * kiln::mean(dxh * xhat, {1}, true));
    Tensor dweight = has_weight && needs_input_grad(1) ? sum(dy * xhat, {0}).reshape(weight.shape()) : Tensor();
    Tensor dbias = needs_input_grad(2) ? sum(dy, {0}).reshape(bias_shape) : Tensor();
    return {dx.reshape(x_in.shape()), dweight, dbias};
  }
};

// x viewed as (N, C, S); mean and invstd (C) come in computed (the batch's statistics
// when training, the running ones otherwise) and get no gradient: in training they are
// functions of x whose terms the backward carries itself.
struct NativeBatchNorm : Function<NativeBatchNorm> {
  static constexpr const char* kName = "batch_norm";
  int64_t n = 0, c = 0, s = 0;
  bool training = false;
  double eps = 0;
  Tensor forward(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                 const Tensor& invstd, bool training_, double eps_) {
    training = training_, eps = eps_;
    n = x_in.size(0), c = x_in.size(1), s = c == 0 || n == 0 ? 0 : x_in.numel() / (n * c);
    Tensor x = x_in.reshape({n, c, s});
    Tensor y = empty({n, c, s}, options_of(x));
    batch_norm_stub(x.device(), y, x, mean, invstd, weight.defined() ? weight.contiguous() : weight,
                    bias.defined() ? bias.contiguous() : bias);
    save(x_in, weight, mean, invstd);
    return y.reshape(x_in.shape());
  }

  TensorList backward(const Tensor& g) {
    auto [x_in, weight, mean, invstd] = saved<4>();
    const bool has_weight = weight.defined();
    Tensor x = x_in.reshape({n, c, s}), dy = g.reshape({n, c, s});
    if (!GradMode::is_enabled()) {
      Tensor dx = needs_input_grad(0) ? empty({n, c, s}, options_of(x)) : Tensor();
      Tensor dweight = has_weight && needs_input_grad(1) ? empty({c}, options_of(x)) : Tensor();
      Tensor dbias = needs_input_grad(2) ? empty({c}, options_of(x)) : Tensor();
      batch_norm_backward_stub(x.device(), dx, dweight, dbias, dy.contiguous(), x, mean, invstd,
                               has_weight ? weight.contiguous() : weight, training);
      return {dx.defined() ? dx.reshape(x_in.shape()) : Tensor(), dweight, dbias, Tensor(), Tensor()};
    }
    // create_graph: the same formulas as the kernel's (ops/cpu/batch_norm.cpp), over dims
    // (0, 2); in training the statistics are recomputed by ops so they are differentiated.
    const IntList dims{0, 2};
    Tensor mu = training ? kiln::mean(x, dims, true) : mean.reshape({1, c, 1});
    Tensor inv = training ? rsqrt(var(x, dims, /*unbiased=*/false, true) + eps) : invstd.reshape({1, c, 1});
    Tensor xhat = (x - mu) * inv;
    Tensor dxh = has_weight ? dy * weight.reshape({1, c, 1}) : dy;
    Tensor dx;
    if (needs_input_grad(0))
      dx = training ? inv * (dxh - kiln::mean(dxh, dims, true) - xhat * kiln::mean(dxh * xhat, dims, true))
                    : dxh * inv;
    Tensor dweight = has_weight && needs_input_grad(1) ? sum(dy * xhat, dims) : Tensor();
    Tensor dbias = needs_input_grad(2) ? sum(dy, dims) : Tensor();
    return {dx.defined() ? dx.reshape(x_in.shape()) : Tensor(), dweight, dbias, Tensor(), Tensor()};
  }
};

}  // namespace

Tensor native_layer_norm(const Tensor& x, int64_t normalized_dims, const Tensor& weight, const Tensor& bias,
                         double eps) {
  const char* op = "native_layer_norm";
  KILN_CHECK(normalized_dims >= 1 && x.dim() >= normalized_dims, op, ": cannot normalise the last ",
             normalized_dims, " dims of ", x.meta_str());
  KILN_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", x.meta_str());
  int64_t cols = 1;
  for (int64_t d = x.dim() - normalized_dims; d < x.dim(); ++d) cols *= x.size(d);
  for (const Tensor* t : {&weight, &bias})
    KILN_CHECK(!t->defined() || (t->numel() == cols && t->dtype() == x.dtype() && t->device() == x.device()), op,
               ": weight and bias must hold ", cols, " elements of the input's dtype and device, got ",
               t->meta_str(), " for input ", x.meta_str());
  return apply<NativeLayerNorm>(x, weight, bias, normalized_dims, eps);
}

Tensor native_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "native_batch_norm";
  KILN_CHECK(x.dim() >= 2, op, ": expected an input of at least 2 dims (N, C, ...), got ", x.meta_str());
  KILN_CHECK(x.dtype() == kFloat32 || x.dtype() == kFloat64, op, ": expected a float32 or float64 input, got ",
             x.meta_str());
  const int64_t n = x.size(0), c = x.size(1);
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var})
    KILN_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == c && t->dtype() == x.dtype() &&
                                 t->device() == x.device()),
               op, ": expected per-channel tensors of shape [", c, "] with the input's dtype and device, got ",
               t->meta_str(), " for input ", x.meta_str());
  const int64_t count = c == 0 ? 0 : x.numel() / c;
  const int64_t s = n == 0 ? 0 : count / n;
  Tensor xc = x.contiguous();
  Tensor mean, invstd;
  {
    NoGradGuard no_grad;
    if (training) {
      KILN_CHECK(count > 1, op, ": expected more than 1 value per channel when training, got input ",
                 x.meta_str());
      mean = empty({c}, options_of(x));
      Tensor batch_var = empty({c}, options_of(x));
      batch_norm_stats_stub(x.device(), mean, batch_var, xc.detach().reshape({n, c, s}));
      invstd = rsqrt(batch_var + eps);
      if (running_mean.defined() && running_var.defined()) {
        Tensor new_mean = running_mean * (1.0 - momentum) + mean * momentum;
        Tensor new_var = running_var * (1.0 - momentum) + batch_var * (momentum * double(count) / double(count - 1));
        Tensor(running_mean).copy_(new_mean);
        Tensor(running_var).copy_(new_var);
      }
    } else {
      KILN_CHECK(running_mean.defined() && running_var.defined(), op,
                 ": running_mean and running_var are needed when not training");
      mean = running_mean.detach().contiguous().clone();
      invstd = rsqrt(running_var.detach() + eps).contiguous();
    }
  }
  return apply<NativeBatchNorm>(xc, weight, bias, mean, invstd, training, eps);
}

}  // namespace kiln
