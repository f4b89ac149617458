// im2col / col2im (torch.nn.functional.unfold / fold): argument checks, output shapes,
// and the backward of each, which is the other. Kernels are in ops/cpu/im2col.cpp;
// convolution (ops/conv.cpp) builds on these.
#include "ops/im2col.h"

#include "autograd/function.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/kernels/im2col.h"

namespace kiln {

KILN_DEFINE_STUB(im2col_stub, "im2col",
                 void(const Tensor& cols, const Tensor& x, const IntList& kernel, const IntList& dilation,
                      const IntList& padding, const IntList& stride));
KILN_DEFINE_STUB(col2im_stub, "col2im",
                 void(const Tensor& x, const Tensor& cols, const IntList& kernel, const IntList& dilation,
                      const IntList& padding, const IntList& stride));

namespace {

void check_pair(const IntList& v, const char* op, const char* what, int64_t min) {
  KILN_CHECK(v.size() == 2, op, ": expected ", what, " as an (h, w) pair, got ", v);
  KILN_CHECK(v[0] >= min && v[1] >= min, op, ": expected ", what, " ", v, " to be at least ", min);
}

void check_geometry(const IntList& kernel, const IntList& dilation, const IntList& padding, const IntList& stride,
                    const char* op) {
  check_pair(kernel, op, "kernel", 1);
  check_pair(dilation, op, "dilation", 1);
  check_pair(padding, op, "padding", 0);
  check_pair(stride, op, "stride", 1);
}

// Patches along one dim: (in + 2 pad - dil (k - 1) - 1) / stride + 1, or 0 when the
// dilated kernel does not fit in the padded input.
int64_t patches(int64_t in, int64_t k, int64_t dil, int64_t pad, int64_t stride) {
  int64_t span = in + 2 * pad - dil * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// batch: the columns come out as (C kh kw, N L) rather than (N, C kh kw, L)
// (Note [Column layouts] in ops/kernels/im2col.h); the kernels are the same.
struct Im2col : Function<Im2col> {
  static constexpr const char* kName = "im2col";
  IntList kernel, dilation, padding, stride, in_hw;
  bool batch = false;
  Tensor forward(const Tensor& x, const IntList& kernel_, const IntList& dilation_, const IntList& padding_,
                 const IntList& stride_, bool batch_) {
    check_geometry(kernel_, dilation_, padding_, stride_, kName);
    KILN_CHECK(x.dim() == 4, "im2col: expected a 4-D (N, C, H, W) input, got ", x.meta_str());
    KILN_CHECK(x.is_floating_point(), "im2col: expected a floating input (float32, float64, float16 or bfloat16), got ",
               x.meta_str());
    kernel = kernel_, dilation = dilation_, padding = padding_, stride = stride_, batch = batch_;
    const Shape& s = x.shape();
    in_hw = {s[2], s[3]};
    int64_t oh = patches(s[2], kernel[0], dilation[0], padding[0], stride[0]);
    int64_t ow = patches(s[3], kernel[1], dilation[1], padding[1], stride[1]);
    KILN_CHECK(oh > 0 && ow > 0, "im2col: kernel ", kernel, " with dilation ", dilation,
               " does not fit in the input ", x.meta_str(), " padded by ", padding);
    const int64_t rows = s[1] * kernel[0] * kernel[1], l = oh * ow;
    // The kernels always see (N, rows, L); in the batch layout that is a transposed view.
    Tensor cols = batch ? empty({rows, s[0], l}, options_of(x)) : empty({s[0], rows, l}, options_of(x));
    Tensor per_image = batch ? cols.transpose(0, 1) : cols;
    if (cols.numel() > 0) im2col_stub(x.device(), per_image, x.contiguous(), kernel, dilation, padding, stride);
    return batch ? cols.reshape({rows, s[0] * l}) : cols;
  }
  TensorList backward(const Tensor& g) {
    return {batch ? col2im_batch(g, in_hw, kernel, dilation, padding, stride)
                  : col2im(g, in_hw, kernel, dilation, padding, stride)};
  }
};

struct Col2im : Function<Col2im> {
  static constexpr const char* kName = "col2im";
  IntList kernel, dilation, padding, stride;
  bool batch = false;
  Tensor forward(const Tensor& cols, const IntList& output_size, const IntList& kernel_, const IntList& dilation_,
                 const IntList& padding_, const IntList& stride_, bool batch_) {
    check_geometry(kernel_, dilation_, padding_, stride_, kName);
    check_pair(output_size, kName, "output_size", 1);
    const char* expected = batch_ ? "2-D columns (C * kh * kw, N * L)" : "3-D columns (N, C * kh * kw, L)";
    KILN_CHECK(cols.dim() == (batch_ ? 2 : 3), "col2im: expected ", expected, ", got ", cols.meta_str());
    KILN_CHECK(cols.is_floating_point(), "col2im: expected floating columns (float32, float64, float16 or bfloat16), got ",
               cols.meta_str());
    kernel = kernel_, dilation = dilation_, padding = padding_, stride = stride_, batch = batch_;
    const int64_t rows = cols.size(batch ? 0 : 1), width = cols.size(batch ? 1 : 2);
    int64_t kk = kernel[0] * kernel[1];
    KILN_CHECK(rows % kk == 0, "col2im: expected the rows of the columns ", cols.meta_str(),
               " to be divisible by the kernel size kh * kw = ", kk);
    int64_t oh = patches(output_size[0], kernel[0], dilation[0], padding[0], stride[0]);
    int64_t ow = patches(output_size[1], kernel[1], dilation[1], padding[1], stride[1]);
    const int64_t l = oh * ow;
    const bool fits = oh > 0 && ow > 0 && (batch ? width % l == 0 : width == l);
    KILN_CHECK(fits, "col2im: expected the columns ", cols.meta_str(), " to hold ", batch ? "a multiple of " : "",
               "the number of patches ", oh, " * ", ow, " = ", l, " of output_size ", output_size, " (kernel ",
               kernel, ", dilation ", dilation, ", padding ", padding, ", stride ", stride, ")");
    const int64_t n = batch ? width / l : cols.size(0);
    Tensor x = zeros({n, rows / kk, output_size[0], output_size[1]}, options_of(cols));
    Tensor per_image = batch ? cols.contiguous().reshape({rows, n, l}).transpose(0, 1) : cols.contiguous();
    if (cols.numel() > 0) col2im_stub(cols.device(), x, per_image, kernel, dilation, padding, stride);
    return x;
  }
  TensorList backward(const Tensor& g) {
    return {batch ? im2col_batch(g, kernel, dilation, padding, stride) : im2col(g, kernel, dilation, padding, stride)};
  }
};

}  // namespace

Tensor im2col(const Tensor& x, const IntList& kernel, const IntList& dilation, const IntList& padding,
              const IntList& stride) {
  return apply<Im2col>(x, kernel, dilation, padding, stride, false);
}

Tensor im2col_batch(const Tensor& x, const IntList& kernel, const IntList& dilation, const IntList& padding,
                    const IntList& stride) {
  return apply<Im2col>(x, kernel, dilation, padding, stride, true);
}

Tensor col2im(const Tensor& cols, const IntList& output_size, const IntList& kernel, const IntList& dilation,
              const IntList& padding, const IntList& stride) {
  return apply<Col2im>(cols, output_size, kernel, dilation, padding, stride, false);
}

Tensor col2im_batch(const Tensor& cols, const IntList& output_size, const IntList& kernel, const IntList& dilation,
                    const IntList& padding, const IntList& stride) {
  return apply<Col2im>(cols, output_size, kernel, dilation, padding, stride, true);
}

}  // namespace kiln
