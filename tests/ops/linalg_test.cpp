// Matrix products: PyTorch reference values and gradients (cases_linalg.py), float64
// gradchecks and double backward, error messages, empty and size-1 shapes, and larger
// products (several GEMM tiles, threads, transposed and broadcast operands) against a
// GEMM-free reference. The GEMM variants themselves are tested in gemm_test.cpp.
#include <cmath>
#include <limits>

#include <gmock/gmock.h>

#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;
using test::OpTable;
using test::one;

const OpTable& linalg_ops() {
  static const OpTable table = {
      {"matmul", [](const TensorList& x) { return one(matmul(x[0], x[1])); }},
      {"matmul.a_transposed", [](const TensorList& x) { return one(matmul(x[0].t(), x[1])); }},
      {"matmul.batched_b_transposed", [](const TensorList& x) { return one(matmul(x[0], x[1].transpose(-1, -2))); }},
      {"mm", [](const TensorList& x) { return one(mm(x[0], x[1])); }},
      {"mm.both_transposed", [](const TensorList& x) { return one(mm(x[0].t(), x[1].t())); }},
      {"bmm", [](const TensorList& x) { return one(bmm(x[0], x[1])); }},
      {"bmm.a_transposed", [](const TensorList& x) { return one(bmm(x[0].transpose(1, 2), x[1])); }},
      {"mv", [](const TensorList& x) { return one(mv(x[0], x[1])); }},
      {"dot", [](const TensorList& x) { return one(dot(x[0], x[1])); }},
      {"outer", [](const TensorList& x) { return one(outer(x[0], x[1])); }},
      {"addmm", [](const TensorList& x) { return one(addmm(x[0], x[1], x[2])); }},
      {"addmm.bias_column_scalars", [](const TensorList& x) { return one(addmm(x[0], x[1], x[2], 0.5, 2.0)); }},
      {"addmm.bias1d_scalars_f64", [](const TensorList& x) { return one(addmm(x[0], x[1], x[2], -1.5, 0.25)); }},
      {"addmm.beta0", [](const TensorList& x) { return one(addmm(x[0], x[1], x[2], 0.0)); }},
      {"addmm.linear", [](const TensorList& x) { return one(addmm(x[0], x[1], x[2].t())); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(LinalgRef, "linalg", linalg_ops());

// a @ b for a (..., n, k), b (..., k, m) without the GEMM: broadcast multiply, then sum
// over k (float32 sums accumulate in double, so this is the more accurate of the two).
Tensor product_by_sum(const Tensor& a, const Tensor& b) { return sum(a.unsqueeze(-1) * b.unsqueeze(-3), {-2}); }

// ---- errors ----

TEST(Linalg, ShapeMismatchNamesTheOpAndBothShapes) {
  EXPECT_EQ(error_of([] { mm(zeros({2, 3}), zeros({4, 5})); }),
            "mm: cannot multiply float32[2, 3] by float32[4, 5]: inner dimensions 3 and 4 differ");
  EXPECT_EQ(error_of([] { matmul(zeros({3}), zeros({4})); }),
            "matmul: cannot multiply float32[3] by float32[4]: inner dimensions 3 and 4 differ");
  EXPECT_EQ(error_of([] { matmul(zeros({2, 3, 4}), zeros({5})); }),
            "matmul: cannot multiply float32[2, 3, 4] by float32[5]: inner dimensions 4 and 5 differ");
  EXPECT_EQ(error_of([] { bmm(zeros({2, 3, 4}), zeros({2, 3, 4})); }),
            "bmm: cannot multiply float32[2, 3, 4] by float32[2, 3, 4]: inner dimensions 4 and 3 differ");
  EXPECT_EQ(error_of([] { mv(zeros({2, 3}), zeros({2})); }),
            "mv: cannot multiply float32[2, 3] by float32[2]: inner dimensions 3 and 2 differ");
  EXPECT_EQ(error_of([] { dot(zeros({3}), zeros({2})); }),
            "dot: cannot multiply float32[3] by float32[2]: inner dimensions 3 and 2 differ");
  EXPECT_EQ(error_of([] { addmm(zeros({2}), zeros({2, 3}), zeros({2, 2})); }),
            "addmm: cannot multiply float32[2, 3] by float32[2, 2]: inner dimensions 3 and 2 differ");
}

TEST(Linalg, BatchMismatchNamesBothShapes) {
  EXPECT_EQ(error_of([] { bmm(zeros({2, 3, 4}), zeros({3, 4, 5})); }),
            "bmm: batch sizes 2 and 3 of float32[2, 3, 4] and float32[3, 4, 5] differ");
  EXPECT_EQ(error_of([] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); }),
            "matmul: the batch dimensions [2] and [3] of float32[2, 3, 4] and float32[3, 4, 5] do not broadcast");
  EXPECT_EQ(error_of([] { matmul(zeros({2, 2, 3, 4}), zeros({3, 4, 5})); }),
            "matmul: the batch dimensions [2, 2] and [3] of float32[2, 2, 3, 4] and float32[3, 4, 5] do not broadcast");
}

TEST(Linalg, WrongNumberOfDimsNamesTheOp) {
  EXPECT_EQ(error_of([] { mm(zeros({2, 3, 4}), zeros({4, 5})); }),
            "mm: expected 2-D tensors, got float32[2, 3, 4] and float32[4, 5]");
  EXPECT_EQ(error_of([] { mm(zeros({3}), zeros({3, 5})); }),
            "mm: expected 2-D tensors, got float32[3] and float32[3, 5]");
  EXPECT_EQ(error_of([] { bmm(zeros({3, 4}), zeros({4, 5})); }),
            "bmm: expected 3-D tensors, got float32[3, 4] and float32[4, 5]");
  EXPECT_EQ(error_of([] { mv(zeros({3}), zeros({3})); }),
            "mv: expected a 2-D matrix and a 1-D vector, got float32[3] and float32[3]");
  EXPECT_EQ(error_of([] { dot(zeros({3, 1}), zeros({3})); }),
            "dot: expected 1-D tensors, got float32[3, 1] and float32[3]");
  EXPECT_EQ(error_of([] { outer(zeros({}), zeros({3})); }),
            "outer: expected 1-D tensors, got float32[] and float32[3]");
  EXPECT_EQ(error_of([] { addmm(zeros({2}), zeros({2}), zeros({2, 2})); }),
            "addmm: expected 2-D matrices, got float32[2] and float32[2, 2]");
  EXPECT_EQ(error_of([] { matmul(zeros({}), zeros({3})); }),
            "matmul: expected tensors with at least 1 dimension, got float32[] and float32[3]");
}

TEST(Linalg, DtypeMismatchAndIntegersAreErrors) {
  EXPECT_EQ(error_of([] { mm(zeros({2, 3}), zeros({3, 4}, kFloat64)); }),
            "mm: expected both tensors to have the same dtype, got float32[2, 3] and float64[3, 4]");
  EXPECT_EQ(error_of([] { matmul(zeros({2, 3}, kInt64), zeros({3, 4}, kInt64)); }),
            "matmul: expected floating tensors (float32, float64, float16 or bfloat16), got int64[2, 3] and int64[3, 4]");
  EXPECT_EQ(error_of([] { dot(zeros({3}, kBool), zeros({3})); }),
            "dot: expected floating tensors (float32, float64, float16 or bfloat16), got bool[3] and float32[3]");
  EXPECT_EQ(error_of([] { addmm(zeros({4}, kFloat64), zeros({2, 3}), zeros({3, 4})); }),
            "addmm: expected both tensors to have the same dtype, got float64[4] and float32[2, 3]");
}

TEST(Linalg, AddmmBiasMustBroadcastToTheOutput) {
  EXPECT_EQ(error_of([] { addmm(zeros({4}), zeros({2, 3}), zeros({3, 5})); }),
            "addmm: bias float32[4] cannot be broadcast to the output shape [2, 5]");
  EXPECT_EQ(error_of([] { addmm(zeros({3, 5}), zeros({2, 3}), zeros({3, 5})); }),
            "addmm: bias float32[3, 5] cannot be broadcast to the output shape [2, 5]");
  EXPECT_EQ(error_of([] { addmm(zeros({1, 2, 5}), zeros({2, 3}), zeros({3, 5})); }),
            "addmm: bias float32[1, 2, 5] cannot be broadcast to the output shape [2, 5]");
}

TEST(Linalg, SavedOperandModifiedInPlaceIsAnErrorNamingTheOp) {
  Tensor a = randn({2, 3}).requires_grad_();
  Tensor b = randn({3, 2});
  Tensor y = mm(a, b);
  b.mul_(2.0);
  EXPECT_THAT(error_of([&] { y.sum().backward(); }), ::testing::StartsWith("mm: a tensor saved for backward"));
}

// ---- edge shapes ----

TEST(Linalg, EmptyProducts) {
  EXPECT_EQ(mm(zeros({0, 3}), zeros({3, 4})).shape(), (Shape{0, 4}));
  EXPECT_EQ(bmm(zeros({0, 2, 3}), zeros({0, 3, 4})).shape(), (Shape{0, 2, 4}));
  EXPECT_EQ(matmul(zeros({2, 0, 3}), zeros({3, 4})).shape(), (Shape{2, 0, 4}));
  // An empty inner dimension sums nothing: zeros, whatever the output memory held.
  EXPECT_EQ(mm(ones({2, 0}), ones({0, 3})).to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(matmul(ones({2, 3, 0}), ones({0, 2})).to_vector<float>(), std::vector<float>(12, 0.0f));
  EXPECT_EQ(dot(ones({0}), ones({0})).item<float>(), 0.0f);
  EXPECT_EQ(addmm(full({3}, 2.0), ones({2, 0}), ones({0, 3}), 0.5).to_vector<float>(), std::vector<float>(6, 1.0f));
  Tensor a = ones({2, 0}).requires_grad_(), b = ones({0, 3}).requires_grad_();
  mm(a, b).sum().backward();
  EXPECT_EQ(a.grad().shape(), (Shape{2, 0}));
  EXPECT_EQ(b.grad().shape(), (Shape{0, 3}));
}

TEST(Linalg, OutputShapesFollowTorchMatmulRules) {
  EXPECT_EQ(matmul(zeros({4}), zeros({4})).shape(), (Shape{}));
  EXPECT_EQ(matmul(zeros({3, 4}), zeros({4})).shape(), (Shape{3}));
  EXPECT_EQ(matmul(zeros({4}), zeros({4, 5})).shape(), (Shape{5}));
  EXPECT_EQ(matmul(zeros({4}), zeros({2, 4, 5})).shape(), (Shape{2, 5}));
  EXPECT_EQ(matmul(zeros({2, 3, 4}), zeros({4})).shape(), (Shape{2, 3}));
  EXPECT_EQ(matmul(zeros({7, 1, 3, 4}), zeros({5, 4, 2})).shape(), (Shape{7, 5, 3, 2}));
  EXPECT_EQ(matmul(zeros({1, 1, 4}), zeros({1, 4, 1})).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(outer(zeros({3}), zeros({1})).shape(), (Shape{3, 1}));
}

TEST(Linalg, AddmmWithBetaZeroIgnoresNanInTheBias) {
  Tensor bias = full({2, 2}, std::numeric_limits<double>::quiet_NaN());
  Tensor a = tensor<float>({1, 2, 3, 4}, {2, 2}), b = tensor<float>({1, 0, 0, 1}, {2, 2});
  EXPECT_EQ(addmm(bias, a, b, 0.0, 2.0).to_vector<float>(), (std::vector<float>{2, 4, 6, 8}));
}

TEST(Linalg, TensorMatmulMethodIsMatmul) {
  Tensor a = randn({2, 3, 4}), b = randn({4, 5});
  EXPECT_TRUE(allclose(a.matmul(b), matmul(a, b), 0, 0));
}

// ---- operand layouts and larger products ----

// Transposed views go to the GEMM in place; other strides are copied first. Both must
// give the same numbers.
TEST(Linalg, TransposedStridedAndBroadcastOperandsMatchAGemmFreeReference) {
  Tensor a = randn({70, 130}), b = randn({260, 70});
  EXPECT_TRUE(allclose(mm(a.t(), b.t()), product_by_sum(a.t(), b.t()), 1e-4, 1e-4));
  Tensor strided = randn({130, 140}).slice(1, 0, 140, 2);  // last-dim stride 2: copied
  EXPECT_TRUE(allclose(mm(strided, b.t()), product_by_sum(strided, b.t()), 1e-4, 1e-4));
  Tensor row = randn({1, 70}).expand({130, 70});  // stride 0 rows: leading dimension 0
  EXPECT_TRUE(allclose(mm(row, b.t()), product_by_sum(row, b.t()), 1e-4, 1e-4));
  Tensor col = randn({1, 9}).t();  // (9, 1) with strides (1, 9)
  Tensor m = randn({4, 9});
  EXPECT_TRUE(allclose(mm(m, col), product_by_sum(m, col), 1e-4, 1e-4));
  Tensor batch_t = randn({3, 20, 6}).transpose(1, 2);  // (3, 6, 20), each matrix transposed
  Tensor rhs = randn({3, 20, 5});
  EXPECT_TRUE(allclose(bmm(batch_t, rhs), product_by_sum(batch_t, rhs), 1e-4, 1e-4));
}

TEST(Linalg, LargeProductsSpanningTilesAndThreadsMatchAGemmFreeReference) {
  Tensor a = randn({130, 70}), b = randn({70, 260});
  EXPECT_TRUE(allclose(mm(a, b), product_by_sum(a, b), 1e-4, 1e-4));
  Tensor x = randn({50, 5, 6}), y = randn({50, 6, 7});  // many small matrices: one per thread
  EXPECT_TRUE(allclose(bmm(x, y), product_by_sum(x, y), 1e-4, 1e-4));
  Tensor p = randn({4, 1, 30, 20}), q = randn({3, 20, 40});  // broadcast batch dims
  EXPECT_TRUE(allclose(matmul(p, q), product_by_sum(p, q), 1e-4, 1e-4));
  Tensor bias = randn({260}), w = randn({260, 70});  // Linear: x @ W^T + bias
  EXPECT_TRUE(allclose(addmm(bias, a, w.t(), 0.5, 2.0), bias * 0.5 + product_by_sum(a, w.t()) * 2.0, 1e-4, 1e-4));
}

TEST(Linalg, LargeGradientsMatchTheFormulas) {
  Tensor a = randn({3, 40, 30}).requires_grad_(), b = randn({30, 50}).requires_grad_();
  Tensor g = randn({3, 40, 50});
  matmul(a, b).backward(g);
  NoGradGuard no_grad;
  EXPECT_TRUE(allclose(a.grad(), product_by_sum(g, b.t()), 1e-4, 1e-4));
  EXPECT_TRUE(allclose(b.grad(), sum(product_by_sum(a.transpose(1, 2), g), {0}), 1e-4, 1e-4));
}

// Note [Gradient layout]: a weight multiplied as weight.t() (Linear) gets its gradient
// straight from the backward as a contiguous tensor with the formula's values (no copy
// left for AccumulateGrad), through mm, addmm and matmul (3-D input), and so does a
// column-major left operand.
TEST(Linalg, GradientOfATransposedOperandIsContiguous) {
  Tensor w = randn({7, 5}).requires_grad_(), x = randn({6, 5}), g = randn({6, 7});
  const Tensor expected = product_by_sum(g.t(), x);  // dW = g^T x
  auto check = [&](const Tensor& y, const Tensor& gy, const char* what) {
    Tensor dw = grad({y}, {w}, {gy})[0];
    EXPECT_TRUE(dw.is_contiguous()) << what;
    EXPECT_TRUE(allclose(dw, expected, 1e-5, 1e-5)) << what;
  };
  check(mm(x, w.t()), g, "mm");
  check(addmm(randn({7}), x, w.t()), g, "addmm");
  check(matmul(x.reshape({2, 3, 5}), w.t()), g.reshape({2, 3, 7}), "matmul");
  Tensor b = randn({7, 4}), gy = randn({5, 4});
  Tensor dw_left = grad({mm(w.t(), b)}, {w}, {gy})[0];  // d(w^T) = gy b^T, so dW = b gy^T
  EXPECT_TRUE(dw_left.is_contiguous());
  EXPECT_TRUE(allclose(dw_left, product_by_sum(b, gy.t()), 1e-5, 1e-5));
}

}  // namespace
}  // namespace kiln
