// Unary ops: PyTorch reference values and gradients, float64 gradchecks, errors.
#include <cmath>
#include <functional>

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
  EXPECT_EQ(error_of([&] { exp(i); }), "exp: expected a floating dtype (float32, float64, float16 or bfloat16), got int64");
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

TEST(Unary, InPlaceFormsMatchOutOfPlaceAndBumpTheVersion) {
  Tensor x = tensor<float>({-1.5f, 0.25f, 2.f}, {3});
  struct Case {
    const char* name;
    std::function<void(Tensor&)> inplace;
    std::function<Tensor(const Tensor&)> out_of_place;
  };
  std::vector<Case> cases = {
      {"neg_", [](Tensor& t) { t.neg_(); }, [](const Tensor& t) { return neg(t); }},
      {"exp_", [](Tensor& t) { t.exp_(); }, [](const Tensor& t) { return exp(t); }},
      {"abs_", [](Tensor& t) { t.abs_(); }, [](const Tensor& t) { return abs(t); }},
      {"relu_", [](Tensor& t) { t.relu_(); }, [](const Tensor& t) { return relu(t); }},
      {"sigmoid_", [](Tensor& t) { t.sigmoid_(); }, [](const Tensor& t) { return sigmoid(t); }},
      {"tanh_", [](Tensor& t) { t.tanh_(); }, [](const Tensor& t) { return tanh(t); }},
      {"pow_", [](Tensor& t) { t.pow_(2.0); }, [](const Tensor& t) { return pow(t, 2.0); }},
      {"clamp_", [](Tensor& t) { t.clamp_(-1.0, 1.0); }, [](const Tensor& t) { return clamp(t, -1.0, 1.0); }},
  };
  for (auto& c : cases) {
    Tensor y = x.clone();
    uint64_t v = y.version();
    c.inplace(y);
    EXPECT_TRUE(test::allclose(y, c.out_of_place(x), 0, 0)) << c.name;
    EXPECT_EQ(y.version(), v + 1) << c.name;
  }
  Tensor p = tensor<float>({0.25f, 4.f});
  p.sqrt_();
  p.log_();
  EXPECT_TRUE(test::allclose(p, log(sqrt(tensor<float>({0.25f, 4.f}))), 0, 0));
}

TEST(Unary, InPlaceOnANonLeafKeepsGradientsRight) {
  Tensor w = tensor<double>({0.5, -1.0}).requires_grad_();
  Tensor y = w * 2.0;
  y.tanh_();  // y = tanh(2w)
  y.sum().backward();
  auto g = w.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 2 * (1 - std::tanh(1.0) * std::tanh(1.0)), 1e-12);
  EXPECT_NEAR(g[1], 2 * (1 - std::tanh(-2.0) * std::tanh(-2.0)), 1e-12);
}

TEST(Unary, EmptyTensorGivesEmptyResult) {
  Tensor y = tanh(zeros({0, 3}));
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
}

}  // namespace
}  // namespace kiln
