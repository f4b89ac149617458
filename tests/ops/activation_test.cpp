// Fused activation gradients (ops/activation.h): threshold_backward against its formula
// on contiguous and strided operands in both dtypes, NaN, a gradcheck, relu's first and
// second derivatives through it, and errors.
#include <cmath>
#include <limits>

#include <gmock/gmock.h>

#include "kiln.h"
#include "ops/cpu/parallel.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;
using test::one;

TEST(ThresholdBackward, SmallExample) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor g = tensor<float>({1, 2, 3, 4, 5, 6});
  Tensor x = tensor<float>({-1, 0, 0.5f, 2, nan, 1});
  EXPECT_EQ(threshold_backward(g, x, 0.0).to_vector<float>(), (std::vector<float>{0, 0, 3, 4, 0, 6}));
  EXPECT_EQ(threshold_backward(g, x, 1.0).to_vector<float>(), (std::vector<float>{0, 0, 0, 4, 0, 0}));
}

// Sizes over the parallel grain with a ragged end, and strided operands (the elementwise
// loop), against where(x > t, g, 0).
TEST(ThresholdBackward, MatchesTheComposite) {
  for (DType dtype : {kFloat32, kFloat64}) {
    for (int64_t n : {int64_t(1), int64_t(37), 3 * cpu::kElementwiseGrain + 5}) {
      Tensor g = randn({n}, dtype), x = randn({n}, dtype);
      EXPECT_TRUE(allclose(threshold_backward(g, x, 0.25), where(gt(x, 0.25), g, 0.0), 0, 0)) << n;
    }
    Tensor g = randn({40, 30}, dtype), x = randn({30, 40}, dtype).t();
    EXPECT_TRUE(allclose(threshold_backward(g, x, 0.0), where(gt(x, 0.0), g, 0.0), 0, 0));
    Tensor gs = test::make_noncontiguous(g);
    EXPECT_TRUE(allclose(threshold_backward(gs, x, 0.0), where(gt(x, 0.0), g, 0.0), 0, 0));
  }
}

TEST(ThresholdBackward, SixteenBitFloats) {
  for (DType dtype : {kFloat16, kBFloat16}) {
    Tensor g = randn({3, 50}).to(dtype), x = randn({3, 50}).to(dtype);
    EXPECT_TRUE(allclose(threshold_backward(g, x, 0.0).to(kFloat32),
                         where(gt(x.to(kFloat32), 0.0), g.to(kFloat32), 0.0), 0, 0));
  }
}

TEST(ThresholdBackward, GradcheckInGrad) {
  Tensor x = randn({5, 7}, kFloat64);
  Tensor g = randn({5, 7}, kFloat64).requires_grad_();
  GradcheckResult r = gradcheck([&](const TensorList& in) { return one(threshold_backward(in[0], x, 0.1)); }, {g});
  EXPECT_TRUE(r.ok) << r.message;
}

// relu's backward is threshold_backward of its output; its double backward (the gradient
// of the gradient with respect to the upstream gradient) stays the same mask.
TEST(ThresholdBackward, ReluSecondOrder) {
  Tensor x = (randn({4, 6}, kFloat64) + 0.05).requires_grad_();  // away from the kink
  auto vjp = [&](const TensorList& in) {
    EnableGradGuard enable;
    return grad({relu(x)}, {x}, {in[0]}, true, true);
  };
  GradcheckResult r = gradcheck(vjp, {randn({4, 6}, kFloat64).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.message;
  Tensor dx = grad({relu(x)}, {x}, {ones({4, 6}, kFloat64)})[0];
  EXPECT_TRUE(allclose(dx, where(gt(x, 0.0), ones({4, 6}, kFloat64), 0.0), 0, 0));
}

TEST(ThresholdBackward, Errors) {
  EXPECT_EQ(error_of([] { threshold_backward(zeros({2, 3}), zeros({3, 2}), 0.0); }),
            "threshold_backward: expected grad and x of one shape, dtype and device, got float32[2, 3] on cpu and "
            "float32[3, 2] on cpu");
  EXPECT_EQ(error_of([] { threshold_backward(zeros({2}, kFloat64), zeros({2}), 0.0); }),
            "threshold_backward: expected grad and x of one shape, dtype and device, got float64[2] on cpu and "
            "float32[2] on cpu");
  EXPECT_EQ(error_of([] { threshold_backward(zeros({2}, kInt64), zeros({2}, kInt64), 0.0); }),
            "threshold_backward: expected floating tensors (float32, float64, float16 or bfloat16), got int64[2] on "
            "cpu");
}

}  // namespace
}  // namespace kiln
