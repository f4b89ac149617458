// Unary ops: PyTorch reference values and gradients, float64 gradchecks, errors.
#include <cmath>

#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::error_of;
using test::OpTable;
using test::one;

const OpTable& unary_ops() {
  static const OpTable table = {
      {"neg", [](const TensorList& x) { return one(neg(x[0])); }},
      {"exp", [](const TensorList& x) { return one(exp(x[0])); }},
      {"log", [](const TensorList& x) { return one(log(x[0])); }},
      {"log1p", [](const TensorList& x) { return one(log1p(x[0])); }},
      {"sqrt", [](const TensorList& x) { return one(sqrt(x[0])); }},
      {"rsqrt", [](const TensorList& x) { return one(rsqrt(x[0])); }},
      {"abs", [](const TensorList& x) { return one(abs(x[0])); }},
      {"sign", [](const TensorList& x) { return one(sign(x[0])); }},
      {"sin", [](const TensorList& x) { return one(sin(x[0])); }},
      {"cos", [](const TensorList& x) { return one(cos(x[0])); }},
      {"erf", [](const TensorList& x) { return one(erf(x[0])); }},
      {"pow.cube", [](const TensorList& x) { return one(pow(x[0], 3.0)); }},
      {"pow.half", [](const TensorList& x) { return one(pow(x[0], 0.5)); }},
      {"pow.square", [](const TensorList& x) { return one(pow(x[0], 2.0)); }},
      {"square", [](const TensorList& x) { return one(square(x[0])); }},
      {"clamp.both", [](const TensorList& x) { return one(clamp(x[0], -0.5, 0.5)); }},
      {"clamp_min", [](const TensorList& x) { return one(clamp_min(x[0], 0.25)); }},
      {"clamp_max", [](const TensorList& x) { return one(clamp_max(x[0], -0.25)); }},
      {"relu", [](const TensorList& x) { return one(relu(x[0])); }},
      {"leaky_relu", [](const TensorList& x) { return one(leaky_relu(x[0], 0.2)); }},
      {"elu", [](const TensorList& x) { return one(elu(x[0], 1.5)); }},
      {"gelu.exact", [](const TensorList& x) { return one(gelu(x[0])); }},
      {"gelu.tanh", [](const TensorList& x) { return one(gelu(x[0], "tanh")); }},
      {"silu", [](const TensorList& x) { return one(silu(x[0])); }},
      {"sigmoid", [](const TensorList& x) { return one(sigmoid(x[0])); }},
      {"tanh", [](const TensorList& x) { return one(tanh(x[0])); }},
      {"softplus.basic", [](const TensorList& x) { return one(softplus(x[0])); }},
      {"softplus.beta_threshold", [](const TensorList& x) { return one(softplus(x[0], 2.0, 3.0)); }},
      {"isfinite", [](const TensorList& x) { return one(isfinite(x[0])); }},
      {"isnan", [](const TensorList& x) { return one(isnan(x[0])); }},
      {"logical_not", [](const TensorList& x) { return one(logical_not(x[0])); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(UnaryRef, "unary", unary_ops());

TEST(Unary, FloatOpOnIntegerTensorNamesOpAndDtype) {
  Tensor i = arange(4.0);
  EXPECT_EQ(error_of([&] { exp(i); }), "exp: expected a floating dtype (float32 or float64), got int64");
}

TEST(Unary, NegAbsSignReluWorkOnInt64) {
  Tensor i = tensor<int64_t>({-2, 0, 3});
  EXPECT_EQ(neg(i).to_vector<int64_t>(), (std::vector<int64_t>{2, 0, -3}));
  EXPECT_EQ(abs(i).to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 3}));
  EXPECT_EQ(sign(i).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 1}));
  EXPECT_EQ(relu(i).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 3}));
}

TEST(Unary, GeluRejectsUnknownApproximation) {
  EXPECT_EQ(error_of([] { gelu(zeros({2}), "fast"); }), "gelu: approximate must be 'none' or 'tanh', got 'fast'");
}

TEST(Unary, ClampRejectsMinAboveMax) {
  EXPECT_EQ(error_of([] { clamp(zeros({2}), 1.0, 0.0); }), "clamp: min 1 is greater than max 0");
}

TEST(Unary, SigmoidIsStableForLargeInputs) {
  Tensor y = sigmoid(tensor<float>({-1000.f, 1000.f}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0.f, 1.f}));
  Tensor z = softplus(tensor<float>({-1000.f, 1000.f}));
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{0.f, 1000.f}));
}

TEST(Unary, LargeTensorUsesThreadsAndMatchesScalarLoop) {
  // Past the grain size the loop runs on several threads: every element must still be right.
  Tensor x = randn({300001});
  Tensor y = exp(x);
  auto xv = x.to_vector<float>();
  auto yv = y.to_vector<float>();
  for (size_t i = 0; i < xv.size(); i += 997) ASSERT_FLOAT_EQ(yv[i], std::exp(xv[i])) << i;
  EXPECT_FLOAT_EQ(yv.back(), std::exp(xv.back()));
}

TEST(Unary, EmptyTensorGivesEmptyResult) {
  Tensor y = tanh(zeros({0, 3}));
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
}

}  // namespace
}  // namespace kiln
