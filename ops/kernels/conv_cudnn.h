// The kernel contract of conv2d_cudnn (ops/conv_cudnn.cpp): the three cuDNN convolution
// kernels and a probe, each a DispatchStub that only cuda/conv_cudnn.cpp registers into
// (a build without CUDA or cuDNN leaves them empty, and conv2d_cudnn says so).
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace kiln {

// The geometry of one convolution, as nn::functional::conv2d takes it: (h, w) pairs and
// the group count.
struct CudnnConvParams {
  IntList stride, padding, dilation;
  int64_t groups = 1;
};

// Every tensor below is contiguous NCHW, float32 or float64 (all the same), on one CUDA
// device; x: (N, C_in, H, W), w: (C_out, C_in / groups, kh, kw), y: (N, C_out, oh, ow)
// with oh = (H + 2 ph - dh (kh - 1) - 1) / sh + 1 (likewise ow). No size is 0.
// y = conv2d(x, w), overwriting y.
KILN_DECLARE_STUB(conv2d_cudnn_forward_stub,
                  void(const Tensor& y, const Tensor& x, const Tensor& w, const CudnnConvParams& p));
// dx = dL/dx given dy = dL/dy, overwriting dx: (N, C_in, H, W).
KILN_DECLARE_STUB(conv2d_cudnn_backward_data_stub,
                  void(const Tensor& dx, const Tensor& dy, const Tensor& w, const CudnnConvParams& p));
// dw = dL/dw given dy, overwriting dw: (C_out, C_in / groups, kh, kw).
KILN_DECLARE_STUB(conv2d_cudnn_backward_filter_stub,
                  void(const Tensor& dw, const Tensor& x, const Tensor& dy, const CudnnConvParams& p));
// Whether cuDNN can run here (a device present, the library loadable); called with
// Device::cuda().
KILN_DECLARE_STUB(cudnn_available_stub, bool());

}  // namespace kiln
