// Normalisation layers: BatchNorm1d/2d (running statistics, momentum, eval mode),
// LayerNorm, GroupNorm, composed of kiln ops (their backward comes with them).
#pragma once

#include "nn/module.h"

namespace kiln::nn {

namespace functional {
// x: (N, C) or (N, C, ...). training: normalise by the batch statistics (biased
// variance) and, if running_mean/var are defined, update them in place with
// r = (1 - momentum) r + momentum * batch (the variance term unbiased, as PyTorch).
// Otherwise normalise by the running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, bool training = false, double momentum = 0.1, double eps = 1e-5);
// Normalises over the last normalized_shape.size() dims; weight/bias of that shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// x: (N, C, ...): statistics over each group of C / num_groups channels (and all of
// the other dims); weight/bias: (C).
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
}  // namespace functional

class BatchNorm : public UnaryModule {
 public:
  // expected_dims: the input ranks the concrete layer accepts (BatchNorm1d: 2 or 3,
  // BatchNorm2d: 4). weight = 1, bias = 0, running_mean = 0, running_var = 1.
  BatchNorm(const char* type_name, int64_t num_features, double eps, double momentum, bool affine,
            bool track_running_stats, TensorOptions opts);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;
  bool affine, track_running_stats;

 protected:
  virtual void check_input(const Tensor& x) const = 0;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true, TensorOptions opts = {})
      : BatchNorm("BatchNorm1d", num_features, eps, momentum, affine, track_running_stats, opts) {}

 protected:
  void check_input(const Tensor& x) const override;
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true, TensorOptions opts = {})
      : BatchNorm("BatchNorm2d", num_features, eps, momentum, affine, track_running_stats, opts) {}

 protected:
  void check_input(const Tensor& x) const override;
};

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     TensorOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
  Shape normalized_shape;
  double eps;
};

class GroupNorm : public UnaryModule {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true, TensorOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t num_groups, num_channels;
  double eps;
};

}  // namespace kiln::nn
