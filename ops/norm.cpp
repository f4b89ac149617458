// native_layer_norm: the Function around the fused kernels (ops/cpu/norm.cpp), and the
// same backward written with kiln ops for create_graph.
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

}  // namespace kiln
