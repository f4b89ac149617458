// softmax and log_softmax along one dim: checks, forward through one fused kernel per
// row (ops/cpu/softmax.cpp, see Note [Stable softmax] there), and the backward through
// one fused kernel per row too, or as kiln ops under create_graph (Note [Fused softmax
// backward]).

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/softmax.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace kiln {

KILN_DEFINE_STUB(softmax_stub, "softmax", SoftmaxKernel);
KILN_DEFINE_STUB(log_softmax_stub, "log_softmax", SoftmaxKernel);
KILN_DEFINE_STUB(softmax_backward_stub, "softmax_backward", SoftmaxBackwardKernel);
KILN_DEFINE_STUB(log_softmax_backward_stub, "log_softmax_backward", SoftmaxBackwardKernel);

namespace {

// The (outer, dim_size, inner) shape the kernels see t as, for `dim` (already wrapped).
Shape rows_shape(const Tensor& t, int64_t dim) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= t.size(d);
  for (int64_t d = dim + 1; d < t.dim(); ++d) inner *= t.size(d);
  return {outer, t.dim() == 0 ? 1 : t.size(dim), inner};
}

// Runs a softmax kernel over `dim` of x (already wrapped); the result has x's shape and
// is contiguous.
Tensor run_softmax(const DispatchStub<SoftmaxKernel>& stub, const Tensor& x, int64_t dim, const char* op) {
  KILN_CHECK(x.is_floating_point(), op, ": expected a floating input (float32 or float64), got ", x.meta_str());
  const Shape rows = rows_shape(x, dim);
  Tensor out = empty(x.shape(), options_of(x));
  stub(x.device(), out.view(rows), x.contiguous().view(rows));
  return out;
}

// The fused backward, or an undefined tensor when it does not apply: under create_graph
// (the formula must be recorded) or on a device without the kernel.
Tensor run_softmax_backward(const DispatchStub<SoftmaxBackwardKernel>& stub, const Tensor& g, const Tensor& y,
                            int64_t dim) {
  if (GradMode::is_enabled() || !stub.has(y.device().type)) return Tensor();
  const Shape rows = rows_shape(y, dim);
  Tensor dx = empty(y.shape(), options_of(y));
  stub(y.device(), dx.view(rows), g.contiguous().view(rows), y.contiguous().view(rows));
  return dx;
}

// y = softmax(x): dy_i/dx_j = y_i ([i == j] - y_j), so the vector-Jacobian product is
//   dx = y * (g - sum(g * y, dim))
struct Softmax : Function<Softmax> {
  static constexpr const char* kName = "softmax";
  int64_t dim = 0;
  Tensor forward(const Tensor& x, int64_t dim_) {
    dim = wrap_dim(dim_, x.dim(), kName);
    Tensor y = run_softmax(softmax_stub, x, dim, kName);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    if (Tensor dx = run_softmax_backward(softmax_backward_stub, g, y, dim); dx.defined()) return {dx};
    return {y * (g - sum(g * y, {dim}, /*keepdim=*/true))};
  }
};

// y = log_softmax(x) = x - logsumexp(x): dy_i/dx_j = [i == j] - softmax(x)_j, so
//   dx = g - exp(y) * sum(g, dim)
struct LogSoftmax : Function<LogSoftmax> {
  static constexpr const char* kName = "log_softmax";
  int64_t dim = 0;
  Tensor forward(const Tensor& x, int64_t dim_) {
    dim = wrap_dim(dim_, x.dim(), kName);
    Tensor y = run_softmax(log_softmax_stub, x, dim, kName);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [y] = saved<1>();
    if (Tensor dx = run_softmax_backward(log_softmax_backward_stub, g, y, dim); dx.defined()) return {dx};
    return {g - exp(y) * sum(g, {dim}, /*keepdim=*/true)};
  }
};

}  // namespace

// Under autocast both run in float32 (Note [Autocast]).
Tensor softmax(const Tensor& x, int64_t dim) { return apply<Softmax>(autocast_to_float(x), dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return apply<LogSoftmax>(autocast_to_float(x), dim); }

}  // namespace kiln
