// softmax and log_softmax: PyTorch reference values and gradients (cases_softmax.py),
// float64 gradchecks, double backward, -inf handling, errors and threaded layouts; the
// fused backward kernels against the composite formula on every CPU ISA path.
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/isa.h"

namespace kiln {
namespace {

using test::error_of;
using test::OpTable;
using test::one;

using SoftmaxFn = Tensor (*)(const Tensor&, int64_t);

// Cases are "<op>.<variant>"; each variant normalises over the dim listed here.
const OpTable& softmax_ops() {
  static const OpTable table = [] {
    const std::pair<const char*, SoftmaxFn> ops[] = {{"softmax", &softmax}, {"log_softmax", &log_softmax}};
    const std::pair<const char*, int64_t> variants[] = {
        {"last", -1},   {"dim0", 0},  {"middle", 1},          {"f64", 1},      {"large", 1},
        {"neg_inf", 1}, {"size1dim", 1}, {"all_neg_inf_row", 1}, {"scalar0d", 0}};
    OpTable t;
    for (const auto& [op, fn] : ops)
      for (const auto& [variant, dim] : variants)
        t[std::string(op) + "." + variant] = [fn, dim](const TensorList& x) { return one(fn(x[0], dim)); };
    return t;
  }();
  return table;
}

KILN_REFERENCE_SUITE(SoftmaxRef, "softmax", softmax_ops());

TEST(Softmax, DoubleBackwardMatchesFiniteDifferences) {
  Generator gen(3);
  Tensor x = randn({3, 4}, kFloat64, &gen).requires_grad_();
  Tensor v = randn({3, 4}, kFloat64, &gen);
  for (SoftmaxFn fn : {&softmax, &log_softmax}) {
    for (int64_t dim : {0, 1}) {
      GradcheckResult r = gradcheck(
          [&](const TensorList& in) {
            EnableGradGuard enable;  // gradcheck evaluates finite differences under NoGradGuard
            return grad({fn(in[0], dim)}, {in[0]}, {v}, /*retain_graph=*/true, /*create_graph=*/true);
          },
          {x});
      EXPECT_TRUE(r.ok) << "dim " << dim << ": " << r.message;
    }
  }
}

TEST(Softmax, NegativeInfinityGetsZeroProbabilityAndAllInfRowIsNan) {
  float inf = std::numeric_limits<float>::infinity();
  Tensor x = tensor<float>({0.f, -inf, 0.f, -inf, -inf, -inf}, {2, 3});
  auto p = softmax(x, 1).to_vector<float>();
  EXPECT_EQ(p[0], 0.5f);
  EXPECT_EQ(p[1], 0.f);
  EXPECT_EQ(p[2], 0.5f);
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(std::isnan(p[size_t(i)])) << i;
  auto lp = log_softmax(x, 1).to_vector<float>();
  EXPECT_FLOAT_EQ(lp[0], -std::log(2.f));
  EXPECT_EQ(lp[1], -inf);
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(std::isnan(lp[size_t(i)])) << i;
}

TEST(Softmax, LargeInputsDoNotOverflow) {
  Tensor x = tensor<float>({1000.f, 1000.f, -1000.f});
  auto p = softmax(x, 0).to_vector<float>();
  EXPECT_EQ(p, (std::vector<float>{0.5f, 0.5f, 0.f}));
  EXPECT_FLOAT_EQ(log_softmax(x, 0).to_vector<float>()[0], -std::log(2.f));
}

TEST(Softmax, ErrorsNameTheOp) {
  EXPECT_EQ(error_of([] { softmax(arange(3.0), 0); }),
            "softmax: expected a floating input (float32 or float64), got int64[3] on cpu");
  EXPECT_EQ(error_of([] { log_softmax(zeros({2, 3}), 2); }),
            "log_softmax: dim 2 is out of range for a tensor with 2 dims (expected a dim in [-2, 1])");
}

TEST(Softmax, EmptyInputGivesEmptyOutput) {
  EXPECT_EQ(softmax(zeros({0, 3}), 1).shape(), (Shape{0, 3}));
  EXPECT_EQ(log_softmax(zeros({2, 0}), 1).shape(), (Shape{2, 0}));
}

TEST(Softmax, StridedDimMatchesLastDimOnLargeInputs) {
  // Softmax over dim 0 of (n, m) runs the column-block kernel (several blocks, several
  // threads); softmax over the last dim of the transpose runs the row kernel.
  Generator gen(11);
  Tensor x = randn({300, 700}, kFloat32, &gen) * 4.0;
  Tensor xt = x.t().contiguous();
  EXPECT_TRUE(test::allclose(softmax(x, 0), softmax(xt, 1).t(), 1e-5, 1e-7));
  EXPECT_TRUE(test::allclose(log_softmax(x, 0), log_softmax(xt, 1).t(), 1e-5, 1e-5));
  Tensor rows = sum(softmax(x, 0), {0});
  EXPECT_TRUE(test::allclose(rows, ones({700}), 1e-5, 1e-5));
}

TEST(Softmax, NonContiguousInput) {
  Generator gen(5);
  Tensor x = randn({4, 6}, kFloat64, &gen);
  Tensor xt = x.t();  // (6, 4), not contiguous
  EXPECT_TRUE(test::allclose(softmax(xt, 1), softmax(xt.contiguous(), 1), 0, 1e-15));
  EXPECT_TRUE(test::allclose(log_softmax(xt, 0), log_softmax(x, 1).t(), 0, 1e-15));
}

// The fused backward (grad without create_graph) against the same formula as kiln ops
// (create_graph records it), over the last dim (row kernel, float32 SIMD exp for
// log_softmax) and a middle dim (column blocks), on threaded shapes with ragged rows.
class SoftmaxBackward : public test::IsaTest {};

TEST_P(SoftmaxBackward, FusedKernelMatchesTheComposedFormula) {
  Generator gen(17);
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const auto& [shape, dim] : {std::pair<Shape, int64_t>{{600, 131}, 1}, {{5, 37, 300}, 1}, {{3, 1}, 1}}) {
      for (SoftmaxFn fn : {&softmax, &log_softmax}) {
        Tensor x = (randn(shape, dtype, &gen) * 3.0).requires_grad_();
        Tensor g = randn(shape, dtype, &gen);
        Tensor fused = grad({fn(x, dim)}, {x}, {g})[0];
        Tensor composed = grad({fn(x, dim)}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
        const double tol = dtype == kFloat32 ? 1e-5 : 1e-13;
        EXPECT_TRUE(test::allclose(fused, composed.detach(), tol, tol))
            << dtype << " " << shape << " dim " << dim << (fn == &softmax ? " softmax" : " log_softmax");
      }
    }
  }
}

// The float32 row kernel runs short rows in blocks of about 4096 elements through one exp
// call: shapes whose rows straddle the blocks (10 and 7 classes, several threads) and one
// row longer than a block agree with the float64 result on every ISA path.
class SoftmaxForward : public test::IsaTest {};

TEST_P(SoftmaxForward, ShortFloat32RowsInBlocksMatchFloat64) {
  Generator gen(19);
  for (const Shape& shape : {Shape{1000, 10}, Shape{2053, 7}, Shape{3, 5000}, Shape{1, 1}}) {
    Tensor x = randn(shape, kFloat64, &gen) * 5.0;
    for (SoftmaxFn fn : {&softmax, &log_softmax}) {
      EXPECT_TRUE(test::allclose(fn(x.to(kFloat32), 1), fn(x, 1).to(kFloat32), 1e-5, 1e-6))
          << shape << (fn == &softmax ? " softmax" : " log_softmax");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, SoftmaxForward,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);
INSTANTIATE_TEST_SUITE_P(Isa, SoftmaxBackward,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

TEST(Softmax, BackwardOfNegativeInfinityInputsIsFinite) {
  float inf = std::numeric_limits<float>::infinity();
  Tensor x = tensor<float>({0.f, -inf, 1.f}, {1, 3}).requires_grad_();
  Tensor g = tensor<float>({1.f, 2.f, 3.f}, {1, 3});
  auto d = grad({softmax(x, 1)}, {x}, {g})[0].to_vector<float>();
  EXPECT_EQ(d[1], 0.f);
  EXPECT_NEAR(d[0] + d[2], 0.f, 1e-6);
  auto dl = grad({log_softmax(x, 1)}, {x}, {g})[0].to_vector<float>();
  EXPECT_EQ(dl[1], 2.f);  // g - exp(-inf) * sum(g) = g
}

}  // namespace
}  // namespace kiln
