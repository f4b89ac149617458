// nn::optim::GradScaler (torch.cuda.amp.GradScaler's semantics) and the fused
// unscale-and-check it runs (ops/amp.h): the scale sequence of a run with injected infs
// and NaNs, skipped steps, growth after the interval, exact unscaled gradients, the
// state dict round trip, and the errors of misuse.
#include <cmath>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kiln.h"
#include "nn/optim/adam.h"
#include "nn/optim/grad_scaler.h"
#include "nn/optim/sgd.h"
#include "nn/serialize.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln {
namespace {

using nn::NamedTensors;
using nn::optim::GradScaler;
using nn::optim::GradScalerOptions;
using test::error_of;
using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(AmpUnscale, MultipliesAndFlagsNonFiniteInEveryFloatingDtype) {
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    Tensor g = tensor<float>({4.0f, -8.0f, 0.5f, 1024.0f}).to(dt);
    Tensor found = zeros({1});
    amp_non_finite_check_and_unscale_(g, found, 0.25);
    EXPECT_EQ(g.dtype(), dt);
    EXPECT_EQ(g.to(kFloat32).to_vector<float>(), (std::vector<float>{1.0f, -2.0f, 0.125f, 256.0f})) << dt;
    EXPECT_EQ(found.item<float>(), 0.0f) << dt;

    Tensor bad = tensor<float>({2.0f, kInf, 6.0f, kNaN}).to(dt);
    amp_non_finite_check_and_unscale_(bad, found, 0.5);
    std::vector<float> v = bad.to(kFloat32).to_vector<float>();
    EXPECT_EQ(v[0], 1.0f);
    EXPECT_TRUE(std::isinf(v[1]));
    EXPECT_EQ(v[2], 3.0f);
    EXPECT_TRUE(std::isnan(v[3]));
    EXPECT_EQ(found.item<float>(), 1.0f) << dt;

    // A later clean tensor never resets the flag.
    Tensor clean = ones({3}).to(dt);
    amp_non_finite_check_and_unscale_(clean, found, 0.5);
    EXPECT_EQ(found.item<float>(), 1.0f) << dt;
  }
}

TEST(AmpUnscale, RoundsThe16BitProductOnce) {
  // 1.0009765625 (1 + 2^-10, exact in float16) * 3 = 3.0029296875 is a tie between float16
  // neighbours 3.001953125 and 3.00390625: ties to even picks 3.00390625.
  Tensor g = full({5}, 1.0009765625, TensorOptions(kFloat16));
  Tensor found = zeros({1});
  amp_non_finite_check_and_unscale_(g, found, 3.0);
  EXPECT_EQ(g.to(kFloat32).to_vector<float>()[0], 3.00390625f);
}

TEST(AmpUnscale, NonContiguousAndLargeGradients) {
  Tensor base = arange(0, 12, 1, TensorOptions(kFloat32)).reshape({3, 4});
  Tensor g = base.t();  // a transposed view: unscaled in place through a copy
  Tensor found = zeros({1});
  amp_non_finite_check_and_unscale_(g, found, 0.5);
  std::vector<float> v = base.to_vector<float>();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(v[size_t(i)], 0.5f * float(i));
  EXPECT_EQ(found.item<float>(), 0.0f);

  // Enough elements to run on several threads; one inf near the end is still seen.
  Tensor big = full({200003}, 2.0);
  Tensor flagged = big.clone();
  std::vector<float> with_inf = flagged.to_vector<float>();
  with_inf[200001] = kInf;
  flagged = tensor<float>(with_inf);
  amp_non_finite_check_and_unscale_(big, found, 0.5);
  EXPECT_EQ(found.item<float>(), 0.0f);
  EXPECT_EQ(sum(big).item<double>(), 200003.0);
  amp_non_finite_check_and_unscale_(flagged, found, 0.5);
  EXPECT_EQ(found.item<float>(), 1.0f);
}

TEST(AmpUnscale, RejectsBadArguments) {
  Tensor found = zeros({1});
  EXPECT_THAT(error_of([&] { amp_non_finite_check_and_unscale_(ones({2}, TensorOptions(kInt64)), found, 1.0); }),
              HasSubstr("expected a floating gradient, got int64[2]"));
  EXPECT_THAT(error_of([&] { amp_non_finite_check_and_unscale_(ones({2}), zeros({2}), 1.0); }),
              HasSubstr("expected found_inf as a one-element float32 tensor, got float32[2]"));
  EXPECT_THAT(error_of([&] {
                amp_non_finite_check_and_unscale_(ones({2}), zeros({1}, TensorOptions(kFloat64)), 1.0);
              }),
              HasSubstr("one-element float32 tensor, got float64[1]"));
}

TEST(GradScaler, DefaultsArePyTorchs) {
  GradScaler s;
  EXPECT_EQ(s.get_scale(), 65536.0);
  EXPECT_EQ(s.get_growth_factor(), 2.0);
  EXPECT_EQ(s.get_backoff_factor(), 0.5);
  EXPECT_EQ(s.get_growth_interval(), 2000);
  EXPECT_TRUE(s.is_enabled());
}

// One iteration on a 2-parameter model whose unscaled gradient is `grad`: backward of
// scale(sum(w * grad)) gives exactly grad * scale.
bool iterate(GradScaler& scaler, nn::optim::Optimizer& opt, Tensor& w, const std::vector<float>& grad) {
  opt.zero_grad();
  scaler.scale(sum(w * tensor<float>(grad))).backward();
  bool stepped = scaler.step(opt);
  scaler.update();
  return stepped;
}

TEST(GradScaler, ScaleSequenceWithInjectedInfsAndNaNs) {
  Tensor w = tensor<float>({1.0f, 2.0f}).requires_grad_();
  nn::optim::SGD opt({w}, {.lr = 0.5});
  GradScaler scaler({.init_scale = 8.0, .growth_interval = 2});
  const std::vector<float> clean{1.0f, -2.0f}, with_inf{kInf, 1.0f}, with_nan{1.0f, kNaN};
  const std::vector<std::vector<float>> grads{clean, clean, with_inf, with_nan, clean, clean, clean, with_inf, clean};
  // After each update: clean steps count up to the interval (2) and double the scale; an
  // inf or NaN halves it and restarts the count.
  const std::vector<double> scales{8, 16, 8, 4, 4, 8, 8, 4, 4};
  const std::vector<int64_t> trackers{1, 0, 0, 0, 1, 0, 1, 0, 1};
  const std::vector<bool> stepped{true, true, false, false, true, true, true, false, true};
  float w0 = 1.0f, w1 = 2.0f;
  for (size_t i = 0; i < grads.size(); ++i) {
    EXPECT_EQ(iterate(scaler, opt, w, grads[i]), stepped[i]) << "iteration " << i;
    EXPECT_EQ(scaler.get_scale(), scales[i]) << "iteration " << i;
    EXPECT_EQ(scaler.growth_tracker(), trackers[i]) << "iteration " << i;
    if (stepped[i]) w0 -= 0.5f * grads[i][0], w1 -= 0.5f * grads[i][1];
    EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{w0, w1})) << "iteration " << i;
  }
  EXPECT_EQ(w0, -2.0f);  // six clean steps of -0.5 * 1
  EXPECT_EQ(w1, 8.0f);
}

TEST(GradScaler, SkippedStepLeavesParametersAndOptimizerStateUntouched) {
  Tensor w = tensor<float>({0.5f, -1.5f, 3.0f}).requires_grad_();
  nn::optim::Adam opt({w}, {.lr = 0.1});
  GradScaler scaler;
  EXPECT_FALSE(iterate(scaler, opt, w, {1.0f, kNaN, 2.0f}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0.5f, -1.5f, 3.0f}));
  for (const auto& [name, t] : opt.state_dict()) EXPECT_EQ(name.rfind("state.", 0), std::string::npos) << name;
  EXPECT_EQ(scaler.get_scale(), 32768.0);
  EXPECT_TRUE(iterate(scaler, opt, w, {1.0f, 1.0f, 1.0f}));
  EXPECT_EQ(opt.state(0, 0).step, 1);
  EXPECT_NE(w.to_vector<float>()[0], 0.5f);
}

TEST(GradScaler, GrowsAfterTheDefaultInterval) {
  Tensor w = tensor<float>({1.0f}).requires_grad_();
  nn::optim::SGD opt({w}, {.lr = 0.0});
  GradScaler scaler;
  for (int i = 0; i < 1999; ++i) iterate(scaler, opt, w, {1.0f});
  EXPECT_EQ(scaler.get_scale(), 65536.0);
  EXPECT_EQ(scaler.growth_tracker(), 1999);
  iterate(scaler, opt, w, {1.0f});
  EXPECT_EQ(scaler.get_scale(), 131072.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
}

TEST(GradScaler, GrowthThatWouldOverflowFloat32KeepsTheScale) {
  Tensor w = tensor<float>({1.0f}).requires_grad_();
  nn::optim::SGD opt({w}, {.lr = 0.0});
  GradScaler scaler({.init_scale = 0x1p127, .growth_interval = 1});
  iterate(scaler, opt, w, {0.0f});
  EXPECT_EQ(scaler.get_scale(), 0x1p127);
  EXPECT_EQ(scaler.growth_tracker(), 0);
}

TEST(GradScaler, UnscaledGradientsAreExact) {
  Tensor w = tensor<float>({1.0f, 2.0f, 3.0f}).requires_grad_();
  Tensor b = tensor<float>({0.5f}).requires_grad_();
  nn::optim::SGD opt({w, b}, {.lr = 1.0});
  GradScaler scaler({.init_scale = 1024.0});
  Tensor x = tensor<float>({0.1f, -3.25f, 7.0f});
  Tensor loss = sum(w * x) + sum(b * 3.0);
  Tensor scaled = scaler.scale(loss);
  EXPECT_EQ(scaled.item<float>(), loss.item<float>() * 1024.0f);
  scaled.backward();
  EXPECT_EQ(w.grad().to_vector<float>()[0], 0.1f * 1024.0f);
  scaler.unscale_(opt);
  EXPECT_EQ(w.grad().to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(b.grad().to_vector<float>(), std::vector<float>{3.0f});
  EXPECT_TRUE(scaler.step(opt));  // uses the unscaled gradients, not unscaling twice
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1.0f - 0.1f, 2.0f + 3.25f, 3.0f - 7.0f}));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 1024.0);
}

TEST(GradScaler, AnInfSeenByOneOfTwoOptimizersBacksOffOnce) {
  Tensor a = tensor<float>({1.0f}).requires_grad_(), b = tensor<float>({1.0f}).requires_grad_();
  nn::optim::SGD opt_a({a}, {.lr = 1.0}), opt_b({b}, {.lr = 1.0});
  GradScaler scaler({.init_scale = 16.0});
  a.set_grad(tensor<float>({16.0f}));
  b.set_grad(tensor<float>({kInf}));
  EXPECT_TRUE(scaler.step(opt_a));
  EXPECT_FALSE(scaler.step(opt_b));
  scaler.update();
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>{0.0f});
  EXPECT_EQ(b.to_vector<float>(), std::vector<float>{1.0f});
  EXPECT_EQ(scaler.get_scale(), 8.0);
}

TEST(GradScaler, StateDictRoundTripThroughSafetensors) {
  Tensor w = tensor<float>({1.0f}).requires_grad_();
  nn::optim::SGD opt({w}, {.lr = 0.0});
  GradScaler scaler({.init_scale = 256.0, .growth_factor = 4.0, .backoff_factor = 0.25, .growth_interval = 5});
  iterate(scaler, opt, w, {kInf});
  iterate(scaler, opt, w, {1.0f});
  iterate(scaler, opt, w, {1.0f});
  ASSERT_EQ(scaler.get_scale(), 64.0);
  ASSERT_EQ(scaler.growth_tracker(), 2);
  NamedTensors loaded = nn::load_safetensors_from_memory(nn::save_safetensors_to_memory(scaler.state_dict()));

  GradScaler restored;
  restored.load_state_dict(loaded);
  EXPECT_EQ(restored.get_scale(), 64.0);
  EXPECT_EQ(restored.growth_tracker(), 2);
  EXPECT_EQ(restored.get_growth_factor(), 4.0);
  EXPECT_EQ(restored.get_backoff_factor(), 0.25);
  EXPECT_EQ(restored.get_growth_interval(), 5);
  // Both continue identically: three more clean steps reach the interval and grow by 4.
  for (int i = 0; i < 3; ++i) {
    iterate(scaler, opt, w, {1.0f});
    iterate(restored, opt, w, {1.0f});
  }
  EXPECT_EQ(scaler.get_scale(), 256.0);
  EXPECT_EQ(restored.get_scale(), 256.0);
}

TEST(GradScaler, LoadStateDictRejectsBadStatesAndChangesNothing) {
  GradScaler good({.init_scale = 4.0, .growth_interval = 3});
  NamedTensors base = good.state_dict();
  auto with = [&](const std::string& key, double v) {
    NamedTensors s = base;
    for (auto& [name, t] : s) {
      if (name == key) t = full({}, v, TensorOptions(t.dtype()));
    }
    return s;
  };
  GradScaler s;
  EXPECT_THAT(error_of([&] { s.load_state_dict({}); }), HasSubstr("saved from a disabled GradScaler"));
  EXPECT_THAT(error_of([&] { s.load_state_dict(with("scale", 0.0)); }), HasSubstr("expected scale > 0"));
  EXPECT_THAT(error_of([&] { s.load_state_dict(with("scale", 1e300)); }), HasSubstr("finite in float32"));
  EXPECT_THAT(error_of([&] { s.load_state_dict(with("growth_factor", 0.5)); }),
              HasSubstr("expected growth_factor > 1, got 0.5"));
  EXPECT_THAT(error_of([&] { s.load_state_dict(with("backoff_factor", 1.0)); }),
              HasSubstr("expected backoff_factor in (0, 1)"));
  EXPECT_THAT(error_of([&] { s.load_state_dict(with("_growth_tracker", 3.0)); }),
              HasSubstr("_growth_tracker as an integer in [0, growth_interval)"));
  NamedTensors missing(base.begin(), base.end() - 1);
  EXPECT_THAT(error_of([&] { s.load_state_dict(missing); }), HasSubstr("has no '_growth_tracker'"));
  NamedTensors extra = base;
  extra.emplace_back("momentum", zeros({}));
  EXPECT_THAT(error_of([&] { s.load_state_dict(extra); }), HasSubstr("unexpected key 'momentum'"));
  EXPECT_EQ(s.get_scale(), 65536.0);
  EXPECT_EQ(s.get_growth_interval(), 2000);
}

TEST(GradScaler, MisuseErrors) {
  Tensor w = tensor<float>({1.0f}).requires_grad_();
  nn::optim::SGD opt({w}, {.lr = 1.0});
  GradScaler scaler;
  EXPECT_THAT(error_of([&] { scaler.update(); }), HasSubstr("no inf checks were recorded prior to update()"));
  EXPECT_THAT(error_of([&] { scaler.step(opt); }), HasSubstr("no inf checks were recorded for this optimizer"));
  scaler.update(1024.0);  // forgets the half-done step above
  w.set_grad(tensor<float>({1.0f}));
  scaler.unscale_(opt);
  EXPECT_THAT(error_of([&] { scaler.unscale_(opt); }), HasSubstr("unscale_() has already been called"));
  scaler.step(opt);
  EXPECT_THAT(error_of([&] { scaler.unscale_(opt); }), HasSubstr("unscale_() is being called after step()"));
  EXPECT_THAT(error_of([&] { scaler.step(opt); }), HasSubstr("step() has already been called"));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 1024.0);

  Tensor h = tensor<float>({1.0f}).to(kFloat16).requires_grad_();
  nn::optim::SGD half_opt({h}, {.lr = 1.0});
  h.set_grad(ones({1}, TensorOptions(kFloat16)));
  EXPECT_THAT(error_of([&] { scaler.unscale_(half_opt); }), HasSubstr("attempting to unscale float16 gradients"));

  EXPECT_THAT(error_of([] { GradScaler bad({.init_scale = 0.0}); }), HasSubstr("expected init_scale > 0"));
  EXPECT_THAT(error_of([] { GradScaler bad({.growth_factor = 1.0}); }), HasSubstr("expected growth_factor > 1"));
  EXPECT_THAT(error_of([] { GradScaler bad({.backoff_factor = 0.0}); }),
              HasSubstr("expected backoff_factor in (0, 1)"));
  EXPECT_THAT(error_of([] { GradScaler bad({.growth_interval = 0}); }), HasSubstr("expected growth_interval > 0"));
  EXPECT_THAT(error_of([&] { scaler.update(-1.0); }), HasSubstr("expected new_scale > 0"));
}

TEST(GradScaler, DisabledIsAPassThrough) {
  Tensor w = tensor<float>({1.0f}).requires_grad_();
  nn::optim::SGD opt({w}, {.lr = 1.0});
  GradScaler scaler({.enabled = false});
  EXPECT_EQ(scaler.get_scale(), 1.0);
  Tensor loss = sum(w * 3.0);
  EXPECT_TRUE(scaler.scale(loss).same_storage(loss));
  scaler.scale(loss).backward();
  scaler.unscale_(opt);
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>{3.0f});
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>{-2.0f});
  EXPECT_TRUE(scaler.state_dict().empty());
  scaler.load_state_dict({});
}

}  // namespace
}  // namespace kiln
