// The losses of nn/loss.h: PyTorch references (values, gradients, gradcheck and
// gradgradcheck) from tests/reference/cases_loss.py, then the module forms, edge cases
// and error messages.
#include <cmath>

#include <gmock/gmock.h>

#include "kiln.h"
#include "nn/loss.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

namespace F = nn::functional;
using test::allclose;
using test::error_of;
using ::testing::HasSubstr;

// The constant weights of cases_loss.py, in the dtype of `like` (float64 in gradcheck).
Tensor weights(const std::vector<double>& values, const Tensor& like) {
  return tensor(values, Shape{int64_t(values.size())}, TensorOptions(like.dtype()));
}
const std::vector<double> kW4 = {0.5, 1.0, 2.0, 0.25};
const std::vector<double> kW3 = {1.5, 0.5, 0.75};
const std::vector<double> kPos4 = {2.0, 0.5, 1.0, 3.0};

const test::OpTable& table() {
  using test::one;
  static const test::OpTable t = {
      {"mse_loss.mean", [](const TensorList& x) { return one(F::mse_loss(x[0], x[1])); }},
      {"mse_loss.sum", [](const TensorList& x) { return one(F::mse_loss(x[0], x[1], "sum")); }},
      {"mse_loss.none", [](const TensorList& x) { return one(F::mse_loss(x[0], x[1], "none")); }},
      {"l1_loss.mean", [](const TensorList& x) { return one(F::l1_loss(x[0], x[1])); }},
      {"l1_loss.sum", [](const TensorList& x) { return one(F::l1_loss(x[0], x[1], "sum")); }},
      {"l1_loss.none", [](const TensorList& x) { return one(F::l1_loss(x[0], x[1], "none")); }},
      {"smooth_l1_loss.mean", [](const TensorList& x) { return one(F::smooth_l1_loss(x[0], x[1])); }},
      {"smooth_l1_loss.beta_half_none",
       [](const TensorList& x) { return one(F::smooth_l1_loss(x[0], x[1], "none", 0.5)); }},
      {"smooth_l1_loss.beta2_sum", [](const TensorList& x) { return one(F::smooth_l1_loss(x[0], x[1], "sum", 2.0)); }},
      {"smooth_l1_loss.beta0", [](const TensorList& x) { return one(F::smooth_l1_loss(x[0], x[1], "mean", 0.0)); }},
      {"binary_cross_entropy.mean", [](const TensorList& x) { return one(F::binary_cross_entropy(x[0], x[1])); }},
      {"binary_cross_entropy.sum_weight",
       [](const TensorList& x) { return one(F::binary_cross_entropy(x[0], x[1], weights(kW4, x[0]), "sum")); }},
      {"binary_cross_entropy.none",
       [](const TensorList& x) { return one(F::binary_cross_entropy(x[0], x[1], {}, "none")); }},
      {"binary_cross_entropy.near_edges",
       [](const TensorList& x) { return one(F::binary_cross_entropy(x[0], x[1], {}, "none")); }},
      {"binary_cross_entropy.clamped",
       [](const TensorList& x) { return one(F::binary_cross_entropy(x[0], x[1], {}, "none")); }},
      {"binary_cross_entropy_with_logits.mean",
       [](const TensorList& x) { return one(F::binary_cross_entropy_with_logits(x[0], x[1])); }},
      {"binary_cross_entropy_with_logits.weight_sum",
       [](const TensorList& x) {
         return one(F::binary_cross_entropy_with_logits(x[0], x[1], weights(kW4, x[0]), "sum"));
       }},
      {"binary_cross_entropy_with_logits.pos_weight_none",
       [](const TensorList& x) {
         return one(F::binary_cross_entropy_with_logits(x[0], x[1], {}, "none", weights(kPos4, x[0])));
       }},
      {"binary_cross_entropy_with_logits.weight_pos_weight",
       [](const TensorList& x) {
         return one(F::binary_cross_entropy_with_logits(x[0], x[1], weights(kW3, x[0]).reshape({3, 1}), "mean",
                                                        weights(kPos4, x[0])));
       }},
      {"binary_cross_entropy_with_logits.large_logits",
       [](const TensorList& x) { return one(F::binary_cross_entropy_with_logits(x[0], x[1], {}, "none")); }},
      {"nll_loss.mean", [](const TensorList& x) { return one(F::nll_loss(x[0], x[1])); }},
      {"nll_loss.sum", [](const TensorList& x) { return one(F::nll_loss(x[0], x[1], {}, -100, "sum")); }},
      {"nll_loss.none", [](const TensorList& x) { return one(F::nll_loss(x[0], x[1], {}, -100, "none")); }},
      {"nll_loss.weight_mean", [](const TensorList& x) { return one(F::nll_loss(x[0], x[1], weights(kW4, x[0]))); }},
      {"nll_loss.weight_ignore_index",
       [](const TensorList& x) { return one(F::nll_loss(x[0], x[1], weights(kW4, x[0]), 1)); }},
      {"nll_loss.ignore_default_none",
       [](const TensorList& x) { return one(F::nll_loss(x[0], x[1], {}, -100, "none")); }},
      {"nll_loss.nd_weight", [](const TensorList& x) { return one(F::nll_loss(x[0], x[1], weights(kW3, x[0]))); }},
      {"nll_loss.nd_none", [](const TensorList& x) { return one(F::nll_loss(x[0], x[1], {}, -100, "none")); }},
      {"nll_loss.unbatched", [](const TensorList& x) { return one(F::nll_loss(x[0], x[1])); }},
      {"cross_entropy.mean", [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1])); }},
      {"cross_entropy.sum", [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], {}, -100, "sum")); }},
      {"cross_entropy.none", [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], {}, -100, "none")); }},
      {"cross_entropy.weight_ignore",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], weights(kW4, x[0]))); }},
      {"cross_entropy.smoothing",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], {}, -100, "mean", 0.2)); }},
      {"cross_entropy.smoothing_ignore_sum",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], {}, 0, "sum", 0.1)); }},
      {"cross_entropy.smoothing_weight",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], weights(kW4, x[0]), -100, "mean", 0.3)); }},
      {"cross_entropy.smoothing_weight_none",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], weights(kW4, x[0]), -100, "none", 0.3)); }},
      {"cross_entropy.smoothing_full",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], {}, -100, "mean", 1.0)); }},
      {"cross_entropy.nd_smoothing_weight",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], weights(kW3, x[0]), -100, "mean", 0.1)); }},
      {"cross_entropy.unbatched",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], {}, -100, "mean", 0.1)); }},
      {"cross_entropy.probs_mean", [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1])); }},
      {"cross_entropy.probs_weight_smoothing_sum",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], weights(kW4, x[0]), -100, "sum", 0.2)); }},
      {"cross_entropy.probs_weight_mean",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], weights(kW4, x[0]))); }},
      {"cross_entropy.probs_nd_none",
       [](const TensorList& x) { return one(F::cross_entropy(x[0], x[1], {}, -100, "none", 0.1)); }},
      {"kl_div.batchmean", [](const TensorList& x) { return one(F::kl_div(x[0], x[1], "batchmean")); }},
      {"kl_div.sum", [](const TensorList& x) { return one(F::kl_div(x[0], x[1], "sum")); }},
      {"kl_div.mean", [](const TensorList& x) { return one(F::kl_div(x[0], x[1], "mean")); }},
      {"kl_div.none", [](const TensorList& x) { return one(F::kl_div(x[0], x[1], "none")); }},
      // the reference detaches the target (its gradient is NaN at 0 in PyTorch)
      {"kl_div.zero_targets", [](const TensorList& x) { return one(F::kl_div(x[0], x[1].detach(), "sum")); }},
      {"kl_div.log_target_batchmean",
       [](const TensorList& x) { return one(F::kl_div(x[0], x[1], "batchmean", true)); }},
      {"kl_div.log_target_none", [](const TensorList& x) { return one(F::kl_div(x[0], x[1], "none", true)); }},
  };
  return t;
}

KILN_REFERENCE_SUITE(LossRef, "loss", table());

Tensor int64s(const std::vector<int64_t>& values) { return tensor(values); }

// ---- module forms ----

TEST(LossModules, MatchTheFunctionalForms) {
  Tensor x = randn({4, 3}), y = randn({4, 3}), p = rand({4, 3}) * 0.9 + 0.05, q = rand({4, 3});
  Tensor t = int64s({0, 2, 1, 2});
  Tensor w = tensor(std::vector<float>{0.5f, 1.0f, 2.0f});
  EXPECT_TRUE(allclose(nn::MSELoss()(x, y), F::mse_loss(x, y), 0, 0));
  EXPECT_TRUE(allclose(nn::L1Loss("sum")(x, y), F::l1_loss(x, y, "sum"), 0, 0));
  EXPECT_TRUE(allclose(nn::SmoothL1Loss("none", 0.5)(x, y), F::smooth_l1_loss(x, y, "none", 0.5), 0, 0));
  EXPECT_TRUE(allclose(nn::BCELoss(w)(p, q), F::binary_cross_entropy(p, q, w), 0, 0));
  EXPECT_TRUE(allclose(nn::BCEWithLogitsLoss({}, "sum", w)(x, q),
                       F::binary_cross_entropy_with_logits(x, q, {}, "sum", w), 0, 0));
  Tensor logp = log_softmax(x, 1);
  EXPECT_TRUE(allclose(nn::NLLLoss(w, 1)(logp, t), F::nll_loss(logp, t, w, 1), 0, 0));
  EXPECT_TRUE(allclose(nn::CrossEntropyLoss(w, -100, "mean", 0.1)(x, t), F::cross_entropy(x, t, w, -100, "mean", 0.1),
                       0, 0));
  EXPECT_TRUE(allclose(nn::KLDivLoss("batchmean")(logp, softmax(y, 1)), F::kl_div(logp, softmax(y, 1), "batchmean"),
                       0, 0));
  nn::MSELoss mse;
  EXPECT_TRUE(allclose(mse.forward(x, y), mse(x, y), 0, 0));
}

TEST(LossModules, WeightsAreBuffersThatFollowTo) {
  nn::CrossEntropyLoss loss(tensor(std::vector<float>{1.0f, 2.0f, 3.0f}), -100, "sum", 0.2);
  ASSERT_EQ(loss.named_buffers().size(), 1u);
  EXPECT_EQ(loss.named_buffers()[0].first, "weight");
  EXPECT_TRUE(loss.named_parameters().empty());
  loss.to(kFloat64);
  EXPECT_EQ(loss.weight.dtype(), kFloat64);
  Tensor x = randn({2, 3}, kFloat64);
  EXPECT_EQ(loss(x, int64s({2, 0})).dtype(), kFloat64);
  nn::BCEWithLogitsLoss plain;
  EXPECT_TRUE(plain.named_buffers().empty());  // absent weights are not in the state dict
  nn::BCEWithLogitsLoss both(ones({3}), "mean", ones({3}));
  EXPECT_EQ(both.state_dict().size(), 2u);
}

TEST(LossModules, ReprShowsTheOptions) {
  EXPECT_THAT(nn::CrossEntropyLoss({}, -100, "sum", 0.1).repr(),
              HasSubstr("CrossEntropyLoss(reduction='sum', ignore_index=-100, label_smoothing=0.1)"));
  EXPECT_THAT(nn::KLDivLoss("batchmean", true).repr(), HasSubstr("reduction='batchmean', log_target=True"));
  EXPECT_THAT(nn::SmoothL1Loss("mean", 0.5).repr(), HasSubstr("beta=0.5"));
  EXPECT_THAT(nn::MSELoss().repr(), HasSubstr("MSELoss(reduction='mean')"));
}

TEST(LossModules, TrainAClassifierStep) {
  // d/dx mean_i CE(x_i, t_i) = (softmax(x) - onehot(t)) / N
  Tensor x = randn({3, 5}).requires_grad_();
  Tensor t = int64s({4, 0, 2});
  nn::CrossEntropyLoss loss;
  loss(x, t).backward();
  Tensor expected = (softmax(x.detach(), 1) - one_hot(t, 5).to(kFloat32)) / 3.0;
  EXPECT_TRUE(allclose(x.grad(), expected, 1e-5, 1e-6));
}

// ---- edge cases ----

TEST(LossEdgeCases, EveryTargetIgnored) {
  Tensor x = randn({2, 3});
  Tensor t = int64s({-100, -100});
  EXPECT_TRUE(std::isnan(F::cross_entropy(x, t).item()));  // 0 / 0, as PyTorch
  EXPECT_EQ(F::cross_entropy(x, t, {}, -100, "sum").item(), 0.0);
  EXPECT_TRUE(allclose(F::nll_loss(x, t, {}, -100, "none"), zeros({2}), 0, 0));
}

TEST(LossEdgeCases, EmptyBatchAndZeroDimInputs) {
  Tensor x = zeros({0, 4});
  Tensor t = zeros({0}, kInt64);
  EXPECT_TRUE(std::isnan(F::cross_entropy(x, t).item()));
  EXPECT_EQ(F::cross_entropy(x, t, {}, -100, "sum").item(), 0.0);
  EXPECT_EQ(F::cross_entropy(x, t, {}, -100, "none").shape(), Shape{0});
  EXPECT_TRUE(std::isnan(F::cross_entropy(x, zeros({0, 4})).item()));  // class probabilities
  Tensor a = scalar_tensor(2.0), b = scalar_tensor(0.5);
  EXPECT_DOUBLE_EQ(F::mse_loss(a, b).item(), 2.25);
  EXPECT_DOUBLE_EQ(F::smooth_l1_loss(a, b, "none").item(), 1.0);
  EXPECT_EQ(F::l1_loss(a, b, "none").dim(), 0);
}

// nll_loss and cross_entropy run through class_nll_loss's kernels (ops/nll.h) unless the
// class weight wants a gradient, which takes the composed ops: both paths give the same
// losses and input gradients, for every reduction, with ignored targets, in float64.
TEST(LossEdgeCases, FusedAndComposedNllPathsAgree) {
  Generator gen(5);
  for (const std::string reduction : {"none", "sum", "mean"}) {
    SCOPED_TRACE(reduction);
    for (const Shape& shape : {Shape{9, 5}, Shape{3, 5, 2, 3}, Shape{5}}) {
      Tensor x = randn(shape, kFloat64, &gen);
      Shape tshape = shape;
      tshape.erase(tshape.begin() + (shape.size() == 1 ? 0 : 1));
      Tensor t = randint(0, 5, tshape, kInt64, &gen);
      t = where(lt(rand(tshape, {}, &gen), 0.3), full(tshape, 2.0, kInt64), t);  // ignore_index 2
      Tensor w = rand({5}, kFloat64, &gen) + 0.5;
      Tensor dy = reduction == "none" ? randn(tshape, kFloat64, &gen) : scalar_tensor(0.7, kFloat64);
      auto run = [&](bool weight_grad) {
        Tensor leaf = x.detach().requires_grad_(true);
        Tensor loss = F::cross_entropy(leaf, t, w.detach().requires_grad_(weight_grad), 2, reduction);
        (loss * dy).sum().backward();
        return std::pair{loss.detach(), leaf.grad()};
      };
      auto [fused, fused_grad] = run(false);
      auto [composed, composed_grad] = run(true);
      EXPECT_TRUE(allclose(fused, composed, 1e-12, 1e-14)) << shape;
      EXPECT_TRUE(allclose(fused_grad, composed_grad, 1e-12, 1e-14)) << shape;
    }
  }
}

TEST(LossErrors, ClassNllLossChecksItsArguments) {
  Tensor logp = log_softmax(randn({4, 3}), 1);
  EXPECT_THAT(error_of([&] { class_nll_loss(logp, int64s({0, 1, 2}), {}, -100, NllReduction::Mean); }),
              HasSubstr("nll_loss: expected a target of shape [4] for input float32[4, 3] on cpu"));
  EXPECT_THAT(error_of([&] { class_nll_loss(logp, zeros({4}), {}, -100, NllReduction::Mean); }),
              HasSubstr("nll_loss: expected int64 class indices"));
  EXPECT_THAT(error_of([&] { class_nll_loss(logp, int64s({0, 1, 2, 1}), ones({4}), -100, NllReduction::Mean); }),
              HasSubstr("nll_loss: expected a class weight of shape [3]"));
  EXPECT_THAT(error_of([&] { class_nll_loss(logp, int64s({0, 3, 2, 1}), {}, -100, NllReduction::Sum); }),
              HasSubstr("nll_loss: target class index 3 is out of range for 3 classes"));
  EXPECT_THAT(error_of([&] { class_nll_loss(logp, int64s({0, -1, 2, 1}), {}, -100, NllReduction::None); }),
              HasSubstr("target class index -1 is out of range"));
}

TEST(LossEdgeCases, LargeLogitsStayFinite) {
  Tensor x = tensor(std::vector<float>{-1000.0f, 1000.0f}).requires_grad_();
  Tensor y = tensor(std::vector<float>{1.0f, 0.0f});
  Tensor loss = F::binary_cross_entropy_with_logits(x, y, {}, "none");
  EXPECT_TRUE(allclose(loss, tensor(std::vector<float>{1000.0f, 1000.0f}), 0, 0));
  loss.sum().backward();
  EXPECT_TRUE(allclose(x.grad(), tensor(std::vector<float>{-1.0f, 1.0f}), 0, 0));
  Tensor big = tensor(std::vector<float>{1000.0f, 0.0f, -1000.0f}, Shape{1, 3});
  EXPECT_FLOAT_EQ(F::cross_entropy(big, int64s({2})).item<float>(), 2000.0f);
}

TEST(LossEdgeCases, BinaryCrossEntropyGradientIsFiniteAtZeroAndOne) {
  Tensor p = tensor(std::vector<float>{0.0f, 1.0f}).requires_grad_();
  Tensor y = tensor(std::vector<float>{0.0f, 0.0f});
  Tensor loss = F::binary_cross_entropy(p, y, {}, "sum");
  EXPECT_FLOAT_EQ(loss.item<float>(), 100.0f);
  loss.backward();
  EXPECT_TRUE(all(isfinite(p.grad())).item<bool>());
}

// ---- error messages ----

TEST(LossErrors, BadReductionNamesTheLoss) {
  Tensor x = randn({2, 3}), y = randn({2, 3});
  EXPECT_THAT(error_of([&] { F::mse_loss(x, y, "avg"); }),
              HasSubstr("mse_loss: expected reduction \"none\", \"mean\" or \"sum\", got \"avg\""));
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, int64s({0, 1}), {}, -100, "batchmean"); }),
              HasSubstr("cross_entropy: expected reduction"));
  EXPECT_THAT(error_of([&] { F::kl_div(x, y, "max"); }), HasSubstr("\"sum\" or \"batchmean\", got \"max\""));
  EXPECT_THAT(error_of([] { nn::CrossEntropyLoss({}, -100, "Mean"); }),
              HasSubstr("CrossEntropyLoss: expected reduction"));
  EXPECT_THAT(error_of([] { nn::KLDivLoss("batch"); }), HasSubstr("KLDivLoss: expected reduction"));
  EXPECT_NO_THROW(nn::KLDivLoss("batchmean"));
}

TEST(LossErrors, TargetOutOfRangeNamesTheClassIndex) {
  Tensor x = randn({3, 4});
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, int64s({0, 7, 1})); }),
              HasSubstr("cross_entropy: target class index 7 is out of range for 4 classes"));
  EXPECT_THAT(error_of([&] { F::nll_loss(x, int64s({0, -1, 1})); }),
              HasSubstr("nll_loss: target class index -1 is out of range for 4 classes"));
  EXPECT_THAT(error_of([&] { F::nll_loss(x, int64s({0, -100, 4}), {}, 2); }), HasSubstr("class index -100"));
}

TEST(LossErrors, ShapesAndDtypesAreNamed) {
  Tensor x = randn({3, 4});
  EXPECT_THAT(error_of([&] { F::mse_loss(x, randn({4, 3})); }),
              HasSubstr("mse_loss: expected a target of the input's shape [3, 4], got target float32[4, 3]"));
  EXPECT_THAT(error_of([&] { F::l1_loss(x, randn({3, 4}, kFloat64)); }),
              HasSubstr("l1_loss: expected a target of the input's dtype float32, got target float64[3, 4]"));
  EXPECT_THAT(error_of([&] { F::mse_loss(zeros({3}, kInt64), zeros({3}, kInt64)); }),
              HasSubstr("mse_loss: expected a floating input (float32 or float64), got int64[3]"));
  EXPECT_THAT(error_of([&] { F::nll_loss(x, zeros({3})); }),
              HasSubstr("nll_loss: expected int64 class indices as the target, got float32[3]"));
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, zeros({3}, kUInt8)); }),
              HasSubstr("cross_entropy: expected int64 class indices as the target, got uint8[3]"));
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, int64s({0, 1})); }),
              HasSubstr("cross_entropy: expected a target of shape [3] for input float32[3, 4]"));
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, zeros({3})); }),
              HasSubstr("cross_entropy (class-probability target): expected a target of the input's shape"));
  EXPECT_THAT(error_of([&] { F::nll_loss(randn({2, 3, 5}), zeros({2, 3}, kInt64)); }),
              HasSubstr("expected a target of shape [2, 5]"));
  EXPECT_THAT(error_of([&] { F::cross_entropy(scalar_tensor(1.0), zeros({}, kInt64)); }),
              HasSubstr("cross_entropy: expected an input of shape (C), (N, C) or (N, C, d1, ...)"));
}

TEST(LossErrors, WeightsAndOptionsAreChecked) {
  Tensor x = randn({3, 4});
  Tensor t = int64s({0, 1, 2});
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, t, ones({3})); }),
              HasSubstr("cross_entropy: expected a class weight of shape [4] (one per class), got float32[3]"));
  EXPECT_THAT(error_of([&] { F::nll_loss(x, t, ones({4}, kFloat64)); }),
              HasSubstr("nll_loss: expected the class weight in the input's dtype"));
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, softmax(x, 1), ones({5})); }),
              HasSubstr("expected a class weight of shape [4]"));
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, t, {}, -100, "mean", 1.5); }),
              HasSubstr("cross_entropy: expected label_smoothing in [0, 1], got 1.5"));
  EXPECT_THAT(error_of([&] { F::cross_entropy(x, softmax(x, 1), {}, 0); }),
              HasSubstr("cross_entropy: ignore_index is not supported with class-probability targets"));
  EXPECT_THAT(error_of([&] { F::binary_cross_entropy_with_logits(x, rand({3, 4}), {}, "mean", ones({3})); }),
              HasSubstr("binary_cross_entropy_with_logits: pos_weight float32[3] on cpu does not broadcast to the "
                        "input's shape [3, 4]"));
  EXPECT_THAT(error_of([&] { F::binary_cross_entropy(rand({3, 4}), rand({3, 4}), ones({2, 3, 4})); }),
              HasSubstr("binary_cross_entropy: weight float32[2, 3, 4] on cpu does not broadcast"));
  EXPECT_THAT(error_of([&] { F::binary_cross_entropy(x, rand({3, 4})); }),
              HasSubstr("binary_cross_entropy: expected every element of the input in [0, 1]"));
  EXPECT_THAT(error_of([&] { F::smooth_l1_loss(x, x, "mean", -1.0); }),
              HasSubstr("smooth_l1_loss: expected beta >= 0, got -1"));
  EXPECT_THAT(error_of([] { nn::SmoothL1Loss("mean", -0.5); }), HasSubstr("SmoothL1Loss: expected beta >= 0"));
  EXPECT_THAT(error_of([&] { F::kl_div(scalar_tensor(0.0), scalar_tensor(1.0), "batchmean"); }),
              HasSubstr("kl_div: reduction \"batchmean\" needs an input with a batch dim"));
}

}  // namespace
}  // namespace kiln
