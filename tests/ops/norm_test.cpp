// The fused layer norm (ops/norm.h) against the unfused formula's forward and autograd
// gradients, on shapes whose rows are split over threads (so the weight and bias
// gradients combine per-thread partial sums), with and without the affine parameters.
// PyTorch references and double-backward checks are the layer_norm cases of tests/nn/.
#include "kiln.h"
#include "ops/norm.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;

Tensor unfused(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  Tensor y = (x - mean(x, {-1}, true)) * rsqrt(var(x, {-1}, /*unbiased=*/false, true) + eps);
  if (w.defined()) y = y * w;
  if (b.defined()) y = y + b;
  return y;
}

TEST(NativeLayerNorm, MatchesTheUnfusedFormulaWithAndWithoutAffine) {
  const int64_t rows = 1500, cols = 48;  // 72k elements: several threads' rows
  for (int affine = 0; affine < 4; ++affine) {
    Tensor x = randn({3, rows / 3, cols}, DType::Float64).requires_grad_();
    Tensor w = affine & 1 ? randn({cols}, DType::Float64).requires_grad_() : Tensor();
    Tensor b = affine & 2 ? randn({cols}, DType::Float64).requires_grad_() : Tensor();
    Tensor g = randn({3, rows / 3, cols}, DType::Float64);
    TensorList inputs{x};
    if (w.defined()) inputs.push_back(w);
    if (b.defined()) inputs.push_back(b);
    Tensor y = native_layer_norm(x, 1, w, b, 1e-5), ref = unfused(x, w, b, 1e-5);
    EXPECT_TRUE(allclose(y, ref, 1e-12, 1e-13)) << "affine " << affine;
    TensorList got = grad({sum(y * g)}, inputs), want = grad({sum(ref * g)}, inputs);
    for (size_t i = 0; i < inputs.size(); ++i)
      EXPECT_TRUE(allclose(got[i], want[i], 1e-10, 1e-11)) << "affine " << affine << " input " << i;
  }
}

TEST(NativeLayerNorm, Float32AndErrors) {
  Tensor x = randn({4, 10}), w = randn({10}), b = randn({10});
  EXPECT_TRUE(allclose(native_layer_norm(x, 1, w, b, 1e-5), unfused(x, w, b, 1e-5), 1e-5, 1e-6));
  EXPECT_EQ(error_of([&] { native_layer_norm(x, 3, w, b, 1e-5); }),
            "native_layer_norm: cannot normalise the last 3 dims of float32[4, 10] on cpu");
  EXPECT_EQ(error_of([&] { native_layer_norm(x, 1, randn({9}), b, 1e-5); }),
            "native_layer_norm: weight and bias must hold 10 elements of the input's dtype and device, got "
            "float32[9] on cpu for input float32[4, 10] on cpu");
}

}  // namespace
}  // namespace kiln
