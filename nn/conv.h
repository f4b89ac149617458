// Convolution and pooling: functional forms (im2col + GEMM, so autograd comes from
// those two ops) and the layers Conv1d, Conv2d, ConvTranspose2d, MaxPool1d/2d,
// AvgPool1d/2d, AdaptiveAvgPool2d, with PyTorch's arguments and initialisation.
#pragma once

#include <string>

#include "nn/module.h"

namespace kiln::nn {

namespace functional {
// x: (N, C_in, H, W), weight: (C_out, C_in / groups, kh, kw), bias: (C_out) or undefined
// -> (N, C_out, H_out, W_out), H_out = (H + 2 pad - dil (kh - 1) - 1) / stride + 1.
// stride, padding, dilation are (h, w) pairs.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const IntList& stride = {1, 1},
              const IntList& padding = {0, 0}, const IntList& dilation = {1, 1}, int64_t groups = 1);
// padding "same" (stride 1 only: output size = input size; odd total padding puts the
// extra row/column at the end, as PyTorch) or "valid" (no padding).
// (A C string, not std::string: a braced {0, 0} would convert to either.)
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const IntList& stride, const char* padding,
              const IntList& dilation = {1, 1}, int64_t groups = 1);
// x: (N, C_in, L), weight: (C_out, C_in / groups, k) -> (N, C_out, L_out).
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, int64_t stride = 1, int64_t padding = 0,
              int64_t dilation = 1, int64_t groups = 1);
// The adjoint of conv2d (its gradient w.r.t. the input): x: (N, C_in, H, W),
// weight: (C_in, C_out / groups, kh, kw) -> (N, C_out, H_out, W_out) with
// H_out = (H - 1) stride - 2 pad + dil (kh - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const IntList& stride = {1, 1},
                        const IntList& padding = {0, 0}, const IntList& output_padding = {0, 0}, int64_t groups = 1,
                        const IntList& dilation = {1, 1});

// Pooling over (kh, kw) windows; stride defaults to the kernel size (empty list).
// Max pooling pads with -inf; average pooling counts the zero padding (PyTorch's
// count_include_pad=True default).
Tensor max_pool2d(const Tensor& x, const IntList& kernel, IntList stride = {}, const IntList& padding = {0, 0},
                  const IntList& dilation = {1, 1});
Tensor avg_pool2d(const Tensor& x, const IntList& kernel, IntList stride = {}, const IntList& padding = {0, 0});
Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride = -1, int64_t padding = 0, int64_t dilation = 1);
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride = -1, int64_t padding = 0);
// Output bin i of n over a dim of size S covers [floor(i S / n), ceil((i + 1) S / n)).
Tensor adaptive_avg_pool2d(const Tensor& x, const IntList& output_size);
}  // namespace functional

class Conv2d : public UnaryModule {
 public:
  // padding: (h, w). PyTorch's init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  Conv2d(int64_t in_channels, int64_t out_channels, IntList kernel_size, IntList stride = {1, 1},
         IntList padding = {0, 0}, IntList dilation = {1, 1}, int64_t groups = 1, bool bias = true,
         TensorOptions opts = {});
  // padding "same" or "valid" (a C string: a braced {0, 0} would also convert to std::string).
  Conv2d(int64_t in_channels, int64_t out_channels, IntList kernel_size, IntList stride, const char* padding,
         IntList dilation = {1, 1}, int64_t groups = 1, bool bias = true, TensorOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels, groups;
  IntList kernel_size, stride, padding, dilation;
  std::string padding_mode;  // "" (numeric padding), "same" or "valid"
};

class Conv1d : public UnaryModule {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true, TensorOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels, kernel_size, stride, padding, dilation, groups;
};

class ConvTranspose2d : public UnaryModule {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntList kernel_size, IntList stride = {1, 1},
                  IntList padding = {0, 0}, IntList output_padding = {0, 0}, int64_t groups = 1, bool bias = true,
                  IntList dilation = {1, 1}, TensorOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels, groups;
  IntList kernel_size, stride, padding, output_padding, dilation;
};

class MaxPool2d : public UnaryModule {
 public:
  MaxPool2d(IntList kernel_size, IntList stride = {}, IntList padding = {0, 0}, IntList dilation = {1, 1});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntList kernel_size, stride, padding, dilation;
};

class AvgPool2d : public UnaryModule {
 public:
  AvgPool2d(IntList kernel_size, IntList stride = {}, IntList padding = {0, 0});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntList kernel_size, stride, padding;
};

class MaxPool1d : public UnaryModule {
 public:
  MaxPool1d(int64_t kernel_size, int64_t stride = -1, int64_t padding = 0, int64_t dilation = 1);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t kernel_size, stride, padding, dilation;
};

class AvgPool1d : public UnaryModule {
 public:
  AvgPool1d(int64_t kernel_size, int64_t stride = -1, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t kernel_size, stride, padding;
};

class AdaptiveAvgPool2d : public UnaryModule {
 public:
  explicit AdaptiveAvgPool2d(IntList output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntList output_size;
};

}  // namespace kiln::nn
