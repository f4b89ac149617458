// max_pool2d_with_indices: argument checks, output shapes, and the backward, a scatter of
// each window's gradient to its index. Kernels: ops/cpu/pool.cpp and cuda/pool.cu; the
// contract: ops/kernels/pool.h.
#include "ops/pool.h"

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/factory.h"
#include "ops/index.h"
#include "ops/kernels/pool.h"

namespace kiln {

KILN_DEFINE_STUB(max_pool2d_stub, "max_pool2d", MaxPool2dKernel);
KILN_DEFINE_STUB(max_pool2d_backward_stub, "max_pool2d", MaxPool2dBackwardKernel);

namespace {

constexpr const char* kOp = "max_pool2d";

void check_pair(const IntList& v, const char* what, int64_t min) {
  KILN_CHECK(v.size() == 2, kOp, ": ", what, " must be a (h, w) pair, got ", v);
  KILN_CHECK(v[0] >= min && v[1] >= min, kOp, ": ", what, " must be at least ", min, ", got ", v);
}

// Whether every window along one dim has a pixel inside [0, size): with dilation a
// window's taps can step over the whole input, and such a window would have no maximum.
bool every_window_meets_input(int64_t size, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
  for (int64_t o = 0; o < out; ++o) {
    const StepRange taps = steps_inside(o * s - p, d, size, k);
    if (taps.lo == taps.hi) return false;
  }
  return true;
}

Im2colGeometry pool_geometry(const Tensor& x, const IntList& kernel, const IntList& stride, const IntList& padding,
                             const IntList& dilation) {
  KILN_CHECK(x.dim() == 4, kOp, ": expected a 4-D input (N, C, H, W), got ", x.meta_str());
  KILN_CHECK(x.is_floating_point(), kOp, ": expected a floating input (float32, float64, float16 or bfloat16), got ",
             x.meta_str());
  check_pair(kernel, "kernel_size", 1);
  check_pair(stride, "stride", 1);
  check_pair(padding, "padding", 0);
  check_pair(dilation, "dilation", 1);
  KILN_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, kOp, ": padding ", padding,
             " must be at most half of kernel_size ", kernel);
  Im2colGeometry g = im2col_geometry(x.shape(), kernel, dilation, padding, stride);
  const bool fits = x.size(2) + 2 * g.ph - g.dh * (g.kh - 1) - 1 >= 0 && x.size(3) + 2 * g.pw - g.dw * (g.kw - 1) - 1 >= 0;
  KILN_CHECK(fits && g.out_h > 0 && g.out_w > 0, kOp, ": kernel ", kernel, " with dilation ", dilation,
             " does not fit in ", x.meta_str(), " padded by ", padding);
  KILN_CHECK(every_window_meets_input(g.h, g.out_h, g.kh, g.sh, g.ph, g.dh) &&
                 every_window_meets_input(g.w, g.out_w, g.kw, g.sw, g.pw, g.dw),
             kOp, ": with kernel ", kernel, ", dilation ", dilation, " and padding ", padding,
             " some window of ", x.meta_str(), " holds only padding");
  return g;
}

struct MaxPool2d : Function<MaxPool2d> {
  static constexpr const char* kName = "max_pool2d";
  Im2colGeometry g{};
  Shape in_shape;

  TensorList forward(const Tensor& x, const IntList& kernel, const IntList& stride, const IntList& padding,
                     const IntList& dilation) {
    g = pool_geometry(x, kernel, stride, padding, dilation);
    in_shape = x.shape();
    const Shape out_shape = {x.size(0), x.size(1), g.out_h, g.out_w};
    Tensor y = empty(out_shape, options_of(x));
    Tensor indices = empty(out_shape, TensorOptions(kInt64).with_device(x.device()));
    if (y.numel() > 0) max_pool2d_stub(x.device(), y, indices, x.contiguous(), g);
    save(indices);
    return {y, indices};
  }

  // dx = the scatter of dy to the indices: the fused kernel, or under create_graph the
  // same sum as a scatter_add, which records its own graph (its gradient is a gather).
  TensorList backward(const TensorList& grads) {
    auto [indices] = saved<1>();
    const Tensor& dy = grads[0];
    if (GradMode::is_enabled()) {
      const int64_t planes = in_shape[0] * in_shape[1], l = g.out_h * g.out_w;
      Tensor flat = zeros({planes, g.h * g.w}, options_of(dy));
      return {scatter_add(flat, 1, indices.reshape({planes, l}), dy.reshape({planes, l})).reshape(in_shape)};
    }
    Tensor dx = zeros(in_shape, options_of(dy));
    if (dy.numel() > 0) max_pool2d_backward_stub(dy.device(), dx, dy.contiguous(), indices, g);
    return {dx};
  }
};

}  // namespace

ValuesIndices max_pool2d_with_indices(const Tensor& x, const IntList& kernel, IntList stride, const IntList& padding,
                                      const IntList& dilation) {
  if (stride.empty()) stride = kernel;
  TensorList out = apply<MaxPool2d>(x, kernel, stride, padding, dilation);
  return {out[0], out[1]};
}

}  // namespace kiln
