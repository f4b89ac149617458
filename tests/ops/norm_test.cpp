// The fused layer norm (ops/norm.h) against the unfused formula's forward and autograd
// gradients, on shapes whose rows are split over threads (so the weight and bias
// gradients combine per-thread partial sums), with and without the affine parameters,
// and the backward's row loops on every CPU ISA path.
// PyTorch references and double-backward checks are the layer_norm cases of tests/nn/.
#include "kiln.h"
#include "ops/norm.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/isa.h"

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

// Rows whose length is not a multiple of the kernel's 8 lanes, float32 and float64, each
// gradient asked for alone (the kernel skips the weight and bias sums it is not asked
// for), on every CPU ISA path (Note [SIMD row kernels]).
class NativeLayerNormBackward : public test::IsaTest {};

TEST_P(NativeLayerNormBackward, RaggedRowsAndSingleGradients) {
  Generator gen(21);
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tol = dtype == kFloat32 ? 1e-4 : 1e-11;
    for (int64_t cols : {1, 7, 37, 203}) {
      Tensor x = (randn({40000 / cols + 3, cols}, dtype, &gen) * 2.0 + 5.0).requires_grad_();
      Tensor w = randn({cols}, dtype, &gen).requires_grad_(), b = randn({cols}, dtype, &gen).requires_grad_();
      Tensor g = randn(x.shape(), dtype, &gen);
      Tensor y = native_layer_norm(x, 1, w, b, 1e-5), ref = unfused(x, w, b, 1e-5);
      TensorList got = grad({sum(y * g)}, {x, w, b}), want = grad({sum(ref * g)}, {x, w, b});
      for (size_t i = 0; i < 3; ++i)
        EXPECT_TRUE(allclose(got[i], want[i], tol, tol)) << dtype << " cols " << cols << " input " << i;
      for (size_t i = 1; i < 3; ++i) {
        Tensor only = grad({sum(native_layer_norm(x, 1, w, b, 1e-5) * g)}, {i == 1 ? w : b})[0];
        EXPECT_TRUE(allclose(only, want[i], tol, tol)) << dtype << " cols " << cols << " input " << i << " alone";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, NativeLayerNormBackward,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

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
