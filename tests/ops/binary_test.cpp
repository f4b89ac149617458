// Binary ops: PyTorch reference values and gradients, float64 gradchecks, broadcasting
// and promotion rules, in-place forms, errors.
#include <cmath>

#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::error_of;
using test::OpTable;
using test::one;

const OpTable& binary_ops() {
  static const OpTable table = {
      {"add.same", [](const TensorList& x) { return one(x[0] + x[1]); }},
      {"add.broadcast", [](const TensorList& x) { return one(add(x[0], x[1])); }},
      {"add.alpha", [](const TensorList& x) { return one(add(x[0], x[1], 2.5)); }},
      {"add.scalar", [](const TensorList& x) { return one(x[0] + 1.5); }},
      {"add.promote_f64", [](const TensorList& x) { return one(x[0] + x[1]); }},
      {"add.int_float", [](const TensorList& x) { return one(x[0] + x[1]); }},
      {"add.int", [](const TensorList& x) { return one(x[0] + x[1]); }},
      {"add.scalar0d_tensor", [](const TensorList& x) { return one(x[0] + x[1]); }},
      {"sub.broadcast", [](const TensorList& x) { return one(x[0] - x[1]); }},
      {"sub.alpha", [](const TensorList& x) { return one(sub(x[0], x[1], 0.5)); }},
      {"rsub.scalar", [](const TensorList& x) { return one(2.0 - x[0]); }},
      {"mul", [](const TensorList& x) { return one(x[0] * x[1]); }},
      {"mul.scalar", [](const TensorList& x) { return one(x[0] * -3.0); }},
      {"mul.self", [](const TensorList& x) { return one(x[0] * x[0]); }},
      {"div", [](const TensorList& x) { return one(x[0] / x[1]); }},
      {"rdiv.scalar", [](const TensorList& x) { return one(2.0 / x[0]); }},
      {"div.scalar", [](const TensorList& x) { return one(x[0] / 4.0); }},
      {"pow", [](const TensorList& x) { return one(pow(x[0], x[1])); }},
      {"maximum", [](const TensorList& x) { return one(maximum(x[0], x[1])); }},
      {"minimum", [](const TensorList& x) { return one(minimum(x[0], x[1])); }},
      {"where.basic", [](const TensorList& x) { return one(where(x[0], x[1], x[2])); }},
      {"where.broadcast", [](const TensorList& x) { return one(where(x[0], x[1], x[2])); }},
      {"where.scalar", [](const TensorList& x) { return one(where(x[0], x[1], 0.0)); }},
      {"eq", [](const TensorList& x) { return one(eq(x[0], x[1])); }},
      {"ne", [](const TensorList& x) { return one(ne(x[0], x[1])); }},
      {"lt", [](const TensorList& x) { return one(lt(x[0], x[1])); }},
      {"le.scalar", [](const TensorList& x) { return one(le(x[0], 0.0)); }},
      {"gt", [](const TensorList& x) { return one(gt(x[0], x[1])); }},
      {"ge", [](const TensorList& x) { return one(ge(x[0], x[1])); }},
      {"logical_and", [](const TensorList& x) { return one(logical_and(x[0], x[1])); }},
      {"logical_or", [](const TensorList& x) { return one(logical_or(x[0], x[1])); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(BinaryRef, "binary", binary_ops());

TEST(Binary, BroadcastMismatchNamesOpAndShapes) {
  EXPECT_EQ(error_of([] { add(zeros({2, 3}), zeros({4})); }),
            "add: shapes [2, 3] and [4] cannot be broadcast together (dim 1: 3 vs 4)");
  EXPECT_EQ(error_of([] { mul(zeros({5, 1}), zeros({2, 3, 2})); }),
            "mul: shapes [5, 1] and [2, 3, 2] cannot be broadcast together (dim 1: 5 vs 3)");
}

TEST(Binary, WhereNeedsBoolCondition) {
  EXPECT_EQ(error_of([] { where(zeros({2}), ones({2}), zeros({2})); }),
            "where: condition must be a bool tensor, got float32[2] on cpu");
}

TEST(Binary, ScalarKeepsTensorDtype) {
  EXPECT_EQ((zeros({2}) * 2.0).dtype(), kFloat32);
  EXPECT_EQ((arange(3.0) * 2.0).dtype(), kInt64);
  EXPECT_EQ((arange(3.0) * 0.5).dtype(), kFloat32);
  EXPECT_EQ((arange(3.0) / 2.0).dtype(), kFloat32);  // true division
}

TEST(Binary, InPlaceAddWritesIntoStorageAndBumpsVersion) {
  Tensor x = zeros({2, 3});
  Tensor alias = x.view({6});
  uint64_t v0 = x.version();
  x.add_(ones({3}), 2.0);
  EXPECT_EQ(alias.to_vector<float>(), std::vector<float>(6, 2.f));
  EXPECT_EQ(x.version(), v0 + 1);
  EXPECT_EQ(alias.version(), v0 + 1);  // views share the counter
}

TEST(Binary, InPlaceRejectsResultThatDoesNotFit) {
  Tensor x = zeros({3});
  EXPECT_EQ(error_of([&] { x.add_(zeros({2, 3})); }),
            "add_: the result of shape [2, 3] does not fit in the tensor written in place, float32[3] on cpu");
  Tensor i = tensor<int64_t>({1, 2});
  EXPECT_EQ(error_of([&] { i.mul_(ones({2})); }),
            "mul_: the result would be float32 and cannot be written into int64[2] on cpu");
}

TEST(Binary, InPlaceWithOverlappingOperandReadsOldValues) {
  Tensor x = tensor<float>({1, 2, 3, 4}, {2, 2});
  x.add_(x.t());
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{2, 5, 5, 8}));
}

TEST(Binary, InPlaceOnNonLeafRecordsGradient) {
  Tensor w = tensor<double>({1.0, 2.0, 3.0}).requires_grad_();
  Tensor y = w * 2.0;
  y.mul_(w);  // y = 2 w^2
  y.sum().backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{4.0, 8.0, 12.0}));
}

TEST(Binary, InPlaceOnLeafRequiringGradIsAnError) {
  Tensor w = ones({2}).requires_grad_();
  EXPECT_EQ(error_of([&] { w.add_(ones({2})); }),
            "add_: a leaf tensor that requires grad cannot be modified in place (float32[2] on cpu); modify it "
            "under NoGradGuard, or clone it first");
}

TEST(Binary, MaximumPropagatesNan) {
  Tensor m = maximum(tensor<float>({NAN, 1.f}), tensor<float>({0.f, NAN}));
  auto v = m.to_vector<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_TRUE(std::isnan(v[1]));
}

}  // namespace
}  // namespace kiln
