// conv2d_cudnn: argument checks, the autograd Function (forward through cuDNN; backward
// through cuDNN without grad mode, through differentiable kiln ops with it) and the stubs
// that cuda/conv_cudnn.cpp registers the cuDNN kernels into. See ops/conv_cudnn.h.
#include "ops/conv_cudnn.h"

#include "autograd/function.h"
#include "core/factory.h"
#include "nn/conv.h"
#include "ops/im2col.h"
#include "ops/kernels/conv_cudnn.h"
#include "ops/linalg.h"
#include "ops/reduce.h"

namespace kiln {

// Defined without KILN_DEFINE_STUB, so they stay out of the stub registry: cuDNN is a
// CUDA library, these stubs never get a CPU kernel (the CPU's convolution is nn/conv.cpp's
// im2col + GEMM), and the registry lists ops that every device should have.
constinit DispatchStub<void(const Tensor& y, const Tensor& x, const Tensor& w, const CudnnConvParams& p)>
    conv2d_cudnn_forward_stub("conv2d_cudnn");
constinit DispatchStub<void(const Tensor& dx, const Tensor& dy, const Tensor& w, const CudnnConvParams& p)>
    conv2d_cudnn_backward_data_stub("conv2d_cudnn_backward_data");
constinit DispatchStub<void(const Tensor& dw, const Tensor& x, const Tensor& dy, const CudnnConvParams& p)>
    conv2d_cudnn_backward_filter_stub("conv2d_cudnn_backward_filter");
constinit DispatchStub<bool()> cudnn_available_stub("cudnn_available");

namespace {

void check_pair(const IntList& v, const char* what, int64_t min) {
  KILN_CHECK(v.size() == 2, "conv2d_cudnn: expected ", what, " as an (h, w) pair, got ", v);
  KILN_CHECK(v[0] >= min && v[1] >= min, "conv2d_cudnn: expected ", what, " ", v, " to be at least ", min);
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

// Every check that needs no CUDA call, in the order a user is most helped by: shapes,
// dtypes, devices, then whether cuDNN is there at all, then the geometry.
void check_args(const Tensor& x, const Tensor& w, const CudnnConvParams& p) {
  KILN_CHECK(x.defined() && x.dim() == 4, "conv2d_cudnn: expected a 4-D input (N, C_in, H, W), got ", x.meta_str());
  KILN_CHECK(w.defined() && w.dim() == 4, "conv2d_cudnn: expected a 4-D weight (C_out, C_in / groups, kh, kw), got ",
             w.meta_str());
  KILN_CHECK((x.dtype() == kFloat32 || x.dtype() == kFloat64) && w.dtype() == x.dtype(),
             "conv2d_cudnn: expected input and weight of one dtype, float32 or float64, got input ", x.meta_str(),
             " and weight ", w.meta_str());
  KILN_CHECK(x.device().is_cuda() && w.device() == x.device(),
             "conv2d_cudnn: expected input and weight on the same CUDA device, got input ", x.meta_str(),
             " and weight ", w.meta_str());
  KILN_CHECK(cudnn_is_available(), "conv2d_cudnn: cuDNN is not available (kiln was built without CUDA or cuDNN, ",
             "or no CUDA device was found); use nn::functional::conv2d's im2col path instead");
  check_pair(p.stride, "stride", 1);
  check_pair(p.padding, "padding", 0);
  check_pair(p.dilation, "dilation", 1);
  const int64_t c_in = x.size(1), c_out = w.size(0);
  KILN_CHECK(p.groups >= 1 && c_in % p.groups == 0 && c_out % p.groups == 0, "conv2d_cudnn: groups = ", p.groups,
             " must divide both in_channels (", c_in, ") and out_channels (", c_out, ")");
  KILN_CHECK(w.size(1) * p.groups == c_in, "conv2d_cudnn: input ", x.meta_str(), " has ", c_in,
             " channels, but weight ", w.meta_str(), " with groups = ", p.groups, " expects ", w.size(1) * p.groups);
  const int64_t oh = out_size(x.size(2), w.size(2), p.stride[0], p.padding[0], p.dilation[0]);
  const int64_t ow = out_size(x.size(3), w.size(3), p.stride[1], p.padding[1], p.dilation[1]);
  KILN_CHECK(oh > 0 && ow > 0, "conv2d_cudnn: the kernel (", w.size(2), ", ", w.size(3), ") with dilation ",
             p.dilation, " does not fit in the padded input ", x.meta_str(), " (padding ", p.padding, ")");
}

// dL/dx and dL/dw from differentiable kiln ops, for a backward with grad mode on: the
// gradient w.r.t. x of a convolution is the transposed convolution of dy with the same
// weight (output_padding restores the rows the forward's stride dropped); w.r.t. w it is
// dy times the im2col columns of x, per group, summed over the batch.
Tensor input_grad_differentiable(const Tensor& dy, const Tensor& w, const Shape& x_shape, const CudnnConvParams& p) {
  IntList output_padding(2);
  for (size_t i = 0; i < 2; ++i) {
    const int64_t k = w.size(int64_t(i) + 2), in = x_shape[i + 2], out = dy.size(int64_t(i) + 2);
    output_padding[i] = in - ((out - 1) * p.stride[i] - 2 * p.padding[i] + p.dilation[i] * (k - 1) + 1);
  }
  return nn::functional::conv_transpose2d(dy, w, {}, p.stride, p.padding, output_padding, p.groups, p.dilation);
}

Tensor weight_grad_differentiable(const Tensor& dy, const Tensor& x, const Shape& w_shape, const CudnnConvParams& p) {
  const int64_t n = x.size(0), g = p.groups, c_out = w_shape[0], kh = w_shape[2], kw = w_shape[3];
  const int64_t l = dy.size(2) * dy.size(3), k = w_shape[1] * kh * kw;
  Tensor cols = im2col(x, {kh, kw}, p.dilation, p.padding, p.stride);          // (N, C_in kh kw, L)
  Tensor per_image = matmul(dy.reshape({n, g, c_out / g, l}),                    // (N, G, C_out/G, K)
                            cols.reshape({n, g, k, l}).transpose(2, 3));
  return sum(per_image, {0}).reshape(w_shape);
}

struct Conv2dCudnn : Function<Conv2dCudnn> {
  static constexpr const char* kName = "conv2d_cudnn";
  CudnnConvParams p;
  Shape x_shape, w_shape;
  Tensor forward(const Tensor& x, const Tensor& w, const CudnnConvParams& params) {
    p = params;
    x_shape = x.shape(), w_shape = w.shape();
    const int64_t oh = out_size(x.size(2), w.size(2), p.stride[0], p.padding[0], p.dilation[0]);
    const int64_t ow = out_size(x.size(3), w.size(3), p.stride[1], p.padding[1], p.dilation[1]);
    save(x, w);
    if (x.size(0) == 0 || w.size(0) == 0 || x.size(1) == 0)  // nothing to compute, or a sum of no terms
      return zeros({x.size(0), w.size(0), oh, ow}, options_of(x));
    Tensor y = empty({x.size(0), w.size(0), oh, ow}, options_of(x));
    conv2d_cudnn_forward_stub(x.device(), y, x.contiguous(), w.contiguous(), p);
    return y;
  }
  TensorList backward(const Tensor& dy) {
    auto [x, w] = saved<2>();
    const bool need_x = needs_input_grad(0), need_w = needs_input_grad(1);
    if (GradMode::is_enabled()) {
      // create_graph: the gradients must themselves be differentiable.
      return {need_x ? input_grad_differentiable(dy, w, x_shape, p) : Tensor(),
              need_w ? weight_grad_differentiable(dy, x, w_shape, p) : Tensor()};
    }
    const bool empty_sum = dy.numel() == 0 || x.numel() == 0 || w.numel() == 0;
    Tensor dx, dw;
    Tensor dyc = dy.contiguous();
    if (need_x) {
      dx = empty_sum ? zeros(x_shape, options_of(x)) : empty(x_shape, options_of(x));
      if (!empty_sum) conv2d_cudnn_backward_data_stub(x.device(), dx, dyc, w.contiguous(), p);
    }
    if (need_w) {
      dw = empty_sum ? zeros(w_shape, options_of(w)) : empty(w_shape, options_of(w));
      if (!empty_sum) conv2d_cudnn_backward_filter_stub(x.device(), dw, x.contiguous(), dyc, p);
    }
    return {dx, dw};
  }
};

}  // namespace

Tensor conv2d_cudnn(const Tensor& x, const Tensor& weight, const IntList& stride, const IntList& padding,
                    const IntList& dilation, int64_t groups) {
  const CudnnConvParams p{stride, padding, dilation, groups};
  check_args(x, weight, p);
  return apply<Conv2dCudnn>(x, weight, p);
}

bool cudnn_is_available() {
  return cudnn_available_stub.has(DeviceType::CUDA) && cudnn_available_stub(Device::cuda());
}

}  // namespace kiln
