// The autograd engine: accumulation, retain_graph, higher-order gradients, grad(),
// version-counter errors, anomaly mode, no-grad mode, leaf semantics.
#include <cmath>

#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;

Tensor leaf(std::vector<double> v) { return tensor(v).requires_grad_(); }

TEST(Autograd, ChainRuleThroughSeveralOps) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = (exp(x) * x + sin(x)).sum();  // dy/dx = e^x (1 + x) + cos x
  y.backward();
  auto g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], std::exp(1.0) * 2 + std::cos(1.0), 1e-12);
  EXPECT_NEAR(g[1], std::exp(2.0) * 3 + std::cos(2.0), 1e-12);
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({3.0});
  (x * x).sum().backward();
  (x * x).sum().backward();
  EXPECT_EQ(x.grad().item<double>(), 12.0);
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, SharedSubexpressionGetsSummedGradient) {
  Tensor x = leaf({2.0});
  Tensor a = x * 3.0;
  Tensor y = a * a + a;  // y = 9x^2 + 3x, dy/dx = 18x + 3
  y.sum().backward();
  EXPECT_EQ(x.grad().item<double>(), 39.0);
}

TEST(Autograd, SecondBackwardWithoutRetainGraphIsAnError) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = (x * x).sum();
  y.backward();
  EXPECT_EQ(error_of([&] { y.backward(); }),
            "mul: trying to backward through the graph a second time (its saved tensors were freed after the "
            "first backward); pass retain_graph=true to the first backward");
}

TEST(Autograd, RetainGraphAllowsSecondBackward) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = (x * x).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4.0, 8.0}));
}

TEST(Autograd, SecondDerivativeOfCube) {
  // d/dx x^3 = 3x^2, d2/dx2 = 6x
  Tensor x = leaf({2.0, -1.0});
  Tensor y = (x * x * x).sum();
  TensorList g = grad({y}, {x}, {}, false, /*create_graph=*/true);
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{12.0, 3.0}));
  EXPECT_TRUE(g[0].requires_grad());
  TensorList h = grad({g[0].sum()}, {x});
  EXPECT_EQ(h[0].to_vector<double>(), (std::vector<double>{12.0, -6.0}));
}

TEST(Autograd, SecondDerivativeThroughSavedOutput) {
  // exp saves its output: double backward must still see it as a function of x.
  Tensor x = leaf({0.5});
  TensorList g = grad({exp(x).sum()}, {x}, {}, false, true);
  TensorList h = grad({g[0].sum()}, {x});
  EXPECT_NEAR(h[0].item<double>(), std::exp(0.5), 1e-12);
  // and tanh: d2/dx2 tanh = -2 tanh (1 - tanh^2)
  Tensor z = leaf({0.3});
  TensorList gz = grad({tanh(z).sum()}, {z}, {}, false, true);
  TensorList hz = grad({gz[0].sum()}, {z});
  double t = std::tanh(0.3);
  EXPECT_NEAR(hz[0].item<double>(), -2 * t * (1 - t * t), 1e-12);
}

TEST(Autograd, HessianVectorProduct) {
  // f(x) = sum(x_i^2 x_j) over i, j = (sum x^2)(sum x); H v computed two ways.
  Tensor x = leaf({1.0, 2.0, 3.0});
  Tensor v = tensor<double>({0.5, -1.0, 2.0});
  Tensor f = (x * x).sum() * x.sum();
  TensorList g = grad({f}, {x}, {}, false, true);
  TensorList hv = grad({(g[0] * v).sum()}, {x});
  // H = 2 diag(sum x) + 2 x 1^T + 2 1 x^T
  auto xv = x.to_vector<double>();
  auto vv = v.to_vector<double>();
  double sx = 6, xdotv = 0, sv = 0;
  for (int i = 0; i < 3; ++i) xdotv += xv[size_t(i)] * vv[size_t(i)], sv += vv[size_t(i)];
  std::vector<double> expected(3);
  for (size_t i = 0; i < 3; ++i) expected[i] = 2 * sx * vv[i] + 2 * xv[i] * sv + 2 * xdotv;
  EXPECT_TRUE(allclose(hv[0], tensor(expected), 1e-12, 1e-12));
}

TEST(Autograd, GradientPenaltyBackwardThroughGrad) {
  // backward() of a function of a gradient (WGAN-GP style): d/dx |d/dx x^3|^2 = 36 x^3
  Tensor x = leaf({1.0, 2.0});
  TensorList g = grad({(x * x * x).sum()}, {x}, {}, false, true);
  (g[0] * g[0]).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{36.0, 288.0}));
}

TEST(Autograd, NonScalarBackwardNeedsGradient) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = x * 2.0;
  EXPECT_EQ(error_of([&] { y.backward(); }),
            "backward: grad can be implicitly created only for one-element outputs, got float64[2] on cpu; pass a "
            "gradient of the same shape");
  y.backward(tensor<double>({1.0, 10.0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0, 20.0}));
}

TEST(Autograd, BackwardOnTensorWithoutGradIsAnError) {
  EXPECT_EQ(error_of([] { ones({1}).backward(); }),
            "backward: output 0 does not require grad and has no grad_fn (float32[1] on cpu)");
}

TEST(Autograd, ModifiedSavedTensorIsDetected) {
  Tensor w = leaf({1.0, 2.0});
  Tensor a = w * 1.0;
  Tensor y = (a * a).sum();  // mul saves a
  {
    NoGradGuard no_grad;
    a.add_(ones({2}, kFloat64));
  }
  EXPECT_EQ(error_of([&] { y.backward(); }),
            "mul: a tensor saved for backward (float64[2] on cpu) was modified by an in-place operation: saved at "
            "version 0, now at version 1");
}

TEST(Autograd, ModificationThroughAViewIsDetected) {
  Tensor w = leaf({1.0, 2.0, 3.0});
  Tensor a = exp(w);  // exp saves its output
  Tensor y = a.sum();
  {
    NoGradGuard no_grad;
    a.narrow(0, 1, 1).fill_(0.0);  // a view shares the version counter
  }
  EXPECT_NE(error_of([&] { y.backward(); }).find("exp: a tensor saved for backward"), std::string::npos);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = leaf({1.0});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * 2.0;
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
  EXPECT_TRUE(GradMode::is_enabled());
}

TEST(Autograd, DetachCutsTheGraphButSharesStorage) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = x * 3.0;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.same_storage(y));
  Tensor z = (d * x).sum();
  z.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3.0, 6.0}));
}

TEST(Autograd, LeafAndNonLeafSemantics) {
  Tensor x = leaf({1.0});
  Tensor y = x * 2.0;
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(y.grad_fn()->name(), "mul");
  EXPECT_NE(error_of([&] { y.requires_grad_(false); }).find("requires_grad_: only leaf tensors can be set"),
            std::string::npos);
  EXPECT_EQ(error_of([] { arange(3.0).requires_grad_(); }),
            "requires_grad_: only floating tensors can require grad, got int64[3] on cpu");
  // a non-leaf's .grad is not kept unless asked for
  Tensor z = y * y;
  y.retain_grad();
  z.sum().backward();
  EXPECT_EQ(y.grad().item<double>(), 4.0);
  EXPECT_EQ(x.grad().item<double>(), 8.0);
}

TEST(Autograd, AnomalyModeNamesTheOpThatMadeNan) {
  Tensor x = leaf({0.0, 1.0});
  Tensor y = sqrt(x).sum();  // d/dx sqrt at 0 = inf
  DetectAnomalyGuard anomaly;
  EXPECT_EQ(error_of([&] { y.backward(); }),
            "anomaly: sqrt backward produced NaN or Inf in its gradient for input 0 (float64[2] on cpu)");
}

TEST(Autograd, WithoutAnomalyModeNanFlowsThrough) {
  Tensor x = leaf({0.0});
  sqrt(x).sum().backward();
  EXPECT_TRUE(std::isinf(x.grad().item<double>()));
}

TEST(Autograd, GradWithUnusedInput) {
  Tensor x = leaf({1.0});
  Tensor unused = leaf({1.0});
  Tensor y = (x * 2.0).sum();
  EXPECT_EQ(error_of([&] { grad({y}, {x, unused}, {}, true); }),
            "grad: input 1 (float64[1] on cpu) was not used to compute the outputs; pass allow_unused=true to get an "
            "undefined gradient");
  TensorList g = grad({y}, {x, unused}, {}, false, false, true);
  EXPECT_EQ(g[0].item<double>(), 2.0);
  EXPECT_FALSE(g[1].defined());
  EXPECT_FALSE(x.grad().defined());  // grad() never touches .grad
}

TEST(Autograd, BroadcastGradientIsReducedToInputShape) {
  Tensor a = leaf({1.0, 2.0, 3.0});
  Tensor b = tensor<double>({1.0, 2.0}, {2, 1}).requires_grad_();
  (a * b).sum().backward();  // (2, 3)
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3.0, 3.0, 3.0}));
  EXPECT_EQ(b.grad().shape(), (Shape{2, 1}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{6.0, 6.0}));
}

TEST(Autograd, LongChainDoesNotOverflowTheStack) {
  Tensor x = leaf({1.0});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0;
  y.sum().backward();
  EXPECT_EQ(x.grad().item<double>(), 1.0);
}

// A deliberately wrong backward, for testing gradcheck: claims d/dx x^2 = x.
struct WrongSquare : Function<WrongSquare> {
  static constexpr const char* kName = "wrong_square";
  Tensor forward(const Tensor& x) {
    save(x);
    return x * x;
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {g * x};
  }
};

TEST(Gradcheck, CatchesAWrongGradient) {
  Tensor x = leaf({1.0, 2.0});
  GradcheckResult bad = gradcheck([](const TensorList& in) { return TensorList{apply<WrongSquare>(in[0])}; }, {x});
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.message.find("Jacobian mismatch for input 0"), std::string::npos) << bad.message;
  GradcheckResult good = gradcheck([](const TensorList& in) { return TensorList{in[0] * in[0]}; }, {x});
  EXPECT_TRUE(good.ok) << good.message;
}

// Right first derivative, wrong second: the backward detaches x, so d/dx of it is lost.
struct DetachedSquare : Function<DetachedSquare> {
  static constexpr const char* kName = "detached_square";
  Tensor forward(const Tensor& x) {
    save(x);
    return x * x;
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    return {g * x.detach() * 2.0};
  }
};

TEST(Gradcheck, GradgradcheckCatchesAWrongDoubleBackward) {
  Tensor x = leaf({1.0, -2.0, 0.5});
  auto detached = [](const TensorList& in) { return TensorList{apply<DetachedSquare>(in[0])}; };
  EXPECT_TRUE(gradcheck(detached, {x}).ok);
  GradcheckResult r = gradgradcheck(detached, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("gradgradcheck (second derivative)"), std::string::npos) << r.message;
  GradcheckResult good = gradgradcheck([](const TensorList& in) { return TensorList{in[0] * in[0] * in[0]}; }, {x});
  EXPECT_TRUE(good.ok) << good.message;
}

TEST(Gradcheck, RequiresFloat64) {
  Tensor x = ones({2}).requires_grad_();
  EXPECT_EQ(error_of([&] { gradcheck([](const TensorList& in) { return in; }, {x}); }),
            "gradcheck: input 0 must be float64, got float32[2] on cpu");
}

}  // namespace
}  // namespace kiln
