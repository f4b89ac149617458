// Normalisation: y = (x - mean) / sqrt(var + eps) * weight + bias over the right dims.
#include "nn/norm.h"

#include <algorithm>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/autocast.h"
#include "ops/binary.h"
#include "ops/norm.h"
#include "ops/reduce.h"
#include "ops/unary.h"
#include "ops/view.h"

namespace kiln::nn {

namespace functional {

namespace {
// A per-channel tensor (C) shaped to broadcast against (N, C, ...) of rank `rank`.
Tensor channel_view(const Tensor& t, int64_t rank) {
  Shape s(size_t(rank), 1);
  s[1] = t.numel();
  return t.reshape(s);
}

Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias, int64_t rank) {
  if (weight.defined()) y = y * channel_view(weight, rank);
  if (bias.defined()) y = y + channel_view(bias, rank);
  return y;
}
}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  KILN_CHECK(x.dim() >= 2, "batch_norm: expected an input of at least 2 dims (N, C, ...), got ", x.meta_str());
  const int64_t c = x.size(1), rank = x.dim();
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias})
    KILN_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == c), "batch_norm: expected per-channel tensors of "
               "shape [", c, "] for input ", x.meta_str(), ", got ", t->meta_str());
  // The fused op (ops/norm.h) on the CPU and CUDA; for the 16-bit floats the composite
  // below.
  if ((x.device().is_cpu() || x.device().is_cuda()) && (x.dtype() == kFloat32 || x.dtype() == kFloat64)) {
    if (!training)
      KILN_CHECK(running_mean.defined() && running_var.defined(),
                 "batch_norm: running_mean and running_var are needed when not training");
    else
      KILN_CHECK(x.numel() / std::max<int64_t>(c, 1) > 1,
                 "batch_norm: expected more than 1 value per channel when training, got input ", x.meta_str());
    return native_batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps);
  }
  IntList dims{0};
  for (int64_t d = 2; d < rank; ++d) dims.push_back(d);
  if (!training) {
    KILN_CHECK(running_mean.defined() && running_var.defined(),
               "batch_norm: running_mean and running_var are needed when not training");
    Tensor y = (x - channel_view(running_mean, rank)) * rsqrt(channel_view(running_var, rank) + eps);
    return affine(y, weight, bias, rank);
  }
  int64_t count = x.numel() / c;
  KILN_CHECK(count > 1, "batch_norm: expected more than 1 value per channel when training, got input ",
             x.meta_str());
  Tensor mu = mean(x, dims, /*keepdim=*/true);
  Tensor var_biased = var(x, dims, /*unbiased=*/false, /*keepdim=*/true);
  if (running_mean.defined() && running_var.defined()) {
    NoGradGuard no_grad;
    Tensor new_mean = running_mean * (1.0 - momentum) + mu.reshape({c}).detach() * momentum;
    Tensor new_var = running_var * (1.0 - momentum) +
                     var_biased.reshape({c}).detach() * (momentum * double(count) / double(count - 1));
    Tensor(running_mean).copy_(new_mean);
    Tensor(running_var).copy_(new_var);
  }
  Tensor y = (x - mu) * rsqrt(var_biased + eps);
  return affine(y, weight, bias, rank);
}

Tensor layer_norm(const Tensor& x_in, const Shape& normalized_shape, const Tensor& weight_in, const Tensor& bias_in,
                  double eps) {
  // Under autocast layer norm runs in float32 (Note [Autocast]).
  const Tensor x = autocast_to_float(x_in), weight = autocast_to_float(weight_in), bias = autocast_to_float(bias_in);
  const int64_t k = int64_t(normalized_shape.size());
  KILN_CHECK(k >= 1 && x.dim() >= k && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
             "layer_norm: input ", x.meta_str(), " does not end in normalized_shape ", normalized_shape);
  for (const Tensor* t : {&weight, &bias})
    KILN_CHECK(!t->defined() || t->shape() == normalized_shape, "layer_norm: weight and bias must have shape ",
               normalized_shape, ", got ", t->meta_str());
  return native_layer_norm(x, k, weight, bias, eps);
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  KILN_CHECK(x.dim() >= 2, "group_norm: expected an input of at least 2 dims (N, C, ...), got ", x.meta_str());
  const int64_t n = x.size(0), c = x.size(1);
  KILN_CHECK(num_groups > 0 && c % num_groups == 0, "group_norm: num_groups = ", num_groups,
             " must divide the number of channels ", c);
  for (const Tensor* t : {&weight, &bias})
    KILN_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == c), "group_norm: weight and bias must have shape [",
               c, "], got ", t->meta_str());
  Tensor g = x.reshape({n, num_groups, -1});
  Tensor y = ((g - mean(g, {2}, true)) * rsqrt(var(g, {2}, false, true) + eps)).reshape(x.shape());
  return affine(y, weight, bias, x.dim());
}

}  // namespace functional


BatchNorm::BatchNorm(const char* type_name, int64_t features, double eps_, double momentum_, bool affine_,
                     bool track, TensorOptions opts)
    : UnaryModule(type_name), num_features(features), eps(eps_), momentum(momentum_), affine(affine_),
      track_running_stats(track) {
  KILN_CHECK(features > 0, type_name, ": num_features must be positive, got ", features);
  opts.requires_grad = false;
  weight = register_parameter("weight", affine ? ones({features}, opts) : Tensor());
  bias = register_parameter("bias", affine ? zeros({features}, opts) : Tensor());
  if (track) {
    running_mean = register_buffer("running_mean", zeros({features}, opts));
    running_var = register_buffer("running_var", ones({features}, opts));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, opts.with_dtype(kInt64)));
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  check_input(x);
  KILN_CHECK(x.size(1) == num_features, type_name(), ": expected ", num_features, " channels, got input ",
             x.meta_str());
  // Without running statistics (track_running_stats=false) the batch's are used in
  // eval mode too, as in PyTorch; running_mean/var are then undefined and not updated.
  bool use_batch_stats = is_training() || !track_running_stats;
  if (is_training() && track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1.0);
  }
  return functional::batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, momentum, eps);
}

std::string BatchNorm::extra_repr() const {
  return repr_join(num_features, ", eps=", eps, ", momentum=", momentum, ", affine=", py_bool(affine),
             ", track_running_stats=", py_bool(track_running_stats));
}

void BatchNorm1d::check_input(const Tensor& x) const {
  KILN_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected a 2-D or 3-D input, got ", x.meta_str());
}

void BatchNorm2d::check_input(const Tensor& x) const {
  KILN_CHECK(x.dim() == 4, "BatchNorm2d: expected a 4-D input, got ", x.meta_str());
}

LayerNorm::LayerNorm(Shape shape, double eps_, bool elementwise_affine, TensorOptions opts)
    : UnaryModule("LayerNorm"), normalized_shape(std::move(shape)), eps(eps_) {
  opts.requires_grad = false;
  weight = register_parameter("weight", elementwise_affine ? ones(normalized_shape, opts) : Tensor());
  bias = register_parameter("bias", elementwise_affine ? zeros(normalized_shape, opts) : Tensor());
}

Tensor LayerNorm::forward(const Tensor& x) { return functional::layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const {
  std::string shape = "(";
  for (size_t i = 0; i < normalized_shape.size(); ++i) shape += repr_join(i ? ", " : "", normalized_shape[i]);
  shape += normalized_shape.size() == 1 ? ",)" : ")";
  return repr_join(shape, ", eps=", eps, ", elementwise_affine=", py_bool(weight.defined()));
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps_, bool affine, TensorOptions opts)
    : UnaryModule("GroupNorm"), num_groups(groups), num_channels(channels), eps(eps_) {
  KILN_CHECK(groups > 0 && channels % groups == 0, "GroupNorm: num_groups = ", groups,
             " must divide num_channels = ", channels);
  opts.requires_grad = false;
  weight = register_parameter("weight", affine ? ones({channels}, opts) : Tensor());
  bias = register_parameter("bias", affine ? zeros({channels}, opts) : Tensor());
}

Tensor GroupNorm::forward(const Tensor& x) { return functional::group_norm(x, num_groups, weight, bias, eps); }

std::string GroupNorm::extra_repr() const {
  return repr_join(num_groups, ", ", num_channels, ", eps=", eps, ", affine=", py_bool(weight.defined()));
}

}  // namespace kiln::nn
