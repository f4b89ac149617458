// softmax and log_softmax along one dim: checks, forward through one fused kernel per
// row (ops/cpu/softmax.cpp, see Note [Stable softmax] there), and backward formulas.

#include "autograd/function.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/softmax.h"
#include "ops/reduce.h"
#include "ops/unary.h"

namespace kiln {

KILN_DEFINE_STUB(softmax_stub, "softmax", SoftmaxKernel);
KILN_DEFINE_STUB(log_softmax_stub, "log_softmax", SoftmaxKernel);

namespace {

// Runs a softmax kernel over `dim` of x (already wrapped); the result has x's shape and
// is contiguous.
Tensor run_softmax(const DispatchStub<SoftmaxKernel>& stub, const Tensor& x, int64_t dim, const char* op) {
  KILN_CHECK(x.is_floating_point(), op, ": expected a floating input (float32 or float64), got ", x.meta_str());
  int64_t outer = 1, inner = 1;
  int64_t n = x.dim() == 0 ? 1 : x.size(dim);
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  Tensor out = empty(x.shape(), options_of(x));
  stub(x.device(), out.view({outer, n, inner}), x.contiguous().view({outer, n, inner}));
  return out;
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
    return {g - exp(y) * sum(g, {dim}, /*keepdim=*/true)};
  }
};

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return apply<Softmax>(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return apply<LogSoftmax>(x, dim); }

}  // namespace kiln
