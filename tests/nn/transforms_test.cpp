// Image transforms (nn/data/transforms.h): every functional transform against
// torchvision 0.14 on committed cases (tests/reference/gen_transforms.py), the random
// transforms' seeding, parameter ranges and frequencies, and the errors for bad input.
#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/factory.h"
#include "nn/data/transforms.h"
#include "ops/binary.h"
#include "ops/reduce.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/reference.h"

namespace kiln::nn::data::transforms {
namespace {

using ::testing::HasSubstr;
using kiln::test::error_of;
using kiln::test::one;

const char* const kFamily = "images/transforms";

std::vector<int64_t> ints(const Tensor& t) { return t.to_vector<int64_t>(); }
std::vector<double> doubles(const Tensor& t) { return t.to_vector<double>(); }

// Case inputs: (image, parameters); see gen_transforms.py for each op's parameters.
const kiln::test::OpTable& transform_table() {
  static const kiln::test::OpTable table = {
      {"resize", [](const TensorList& in) { return one(resize(in[0], ints(in[1]))); }},
      {"crop",
       [](const TensorList& in) {
         auto p = ints(in[1]);
         return one(crop(in[0], p[0], p[1], p[2], p[3]));
       }},
      {"center_crop", [](const TensorList& in) { return one(center_crop(in[0], ints(in[1]))); }},
      {"resized_crop",
       [](const TensorList& in) {
         auto p = ints(in[1]);
         return one(resized_crop(in[0], p[0], p[1], p[2], p[3], {p[4], p[5]}));
       }},
      {"hflip", [](const TensorList& in) { return one(hflip(in[0])); }},
      {"rotate",
       [](const TensorList& in) {
         auto p = doubles(in[1]);
         std::optional<std::pair<double, double>> center;
         if (p.size() >= 3) center = std::pair{p[1], p[2]};
         return one(rotate(in[0], p[0], center, p.size() == 4 ? p[3] : 0.0));
       }},
      {"normalize",
       [](const TensorList& in) {
         auto p = doubles(in[1]);
         size_t half = p.size() / 2;
         return one(normalize(in[0], {p.begin(), p.begin() + long(half)}, {p.begin() + long(half), p.end()}));
       }},
      {"to_tensor", [](const TensorList& in) { return one(to_tensor(in[0])); }},
  };
  return table;
}

class TransformReference : public ::testing::TestWithParam<std::string> {};

// Float outputs within the case's rtol/atol (1e-4/1e-5). uint8 outputs exactly, except
// that a resized uint8 pixel may be off by one: the float32 value before rounding
// differs from PyTorch's vectorised kernel in the last bit or two, which moves a value
// that is a half-integer in exact arithmetic to the other side of the rounding.
TEST_P(TransformReference, MatchesTorchvision) {
  const auto& c = kiln::test::reference_case(kFamily, GetParam());
  kiln::test::RefCase checked = c;
  if (c.outputs.at(0).dtype() == kUInt8) {
    checked.rtol = 0.0;
    checked.atol = c.name.starts_with("resize") ? 1.0 : 0.0;
  }
  kiln::test::check_reference_case(checked, kiln::test::find_op(transform_table(), c.name));
}

INSTANTIATE_TEST_SUITE_P(Transforms, TransformReference,
                         ::testing::ValuesIn(kiln::test::reference_case_names(kFamily)), kiln::test::case_test_name);

TEST(Transforms, ReferenceCoversEveryFunctionalTransform) {
  std::set<std::string> ops;
  for (const std::string& name : kiln::test::reference_case_names(kFamily)) ops.insert(name.substr(0, name.find('.')));
  EXPECT_EQ(ops, (std::set<std::string>{"center_crop", "crop", "hflip", "normalize", "resize", "resized_crop",
                                        "rotate", "to_tensor"}));
}

// ---- functional details ----

TEST(Transforms, ResizeKeepsTheAspectRatioAsTorchvisionTruncates) {
  Tensor img = rand({3, 7, 10});
  EXPECT_EQ(resize(img, 3).shape(), (Shape{3, 3, 4}));     // int(3 * 10 / 7) = 4
  EXPECT_EQ(resize(img, {5}).shape(), (Shape{3, 5, 7}));   // int(5 * 10 / 7) = 7
  EXPECT_EQ(resize(rand({1, 10, 7}), 5).shape(), (Shape{1, 7, 5}));
  EXPECT_EQ(resize(img, {2, 9}).shape(), (Shape{3, 2, 9}));
  EXPECT_TRUE(resize(img, 7).same_storage(img));  // the smaller edge is already 7
}

TEST(Transforms, ResizeOfAConstantImageIsConstantForEveryDtype) {
  for (DType dtype : {kUInt8, kFloat32, kFloat64}) {
    Tensor img = full({2, 5, 9}, 77.0, dtype);
    Tensor out = resize(img, {8, 4});
    EXPECT_EQ(out.dtype(), dtype);
    EXPECT_TRUE(kiln::test::allclose(out.to(kFloat64), full({2, 8, 4}, 77.0, kFloat64), 1e-6, 1e-5));
  }
}

TEST(Transforms, HflipTwiceAndRotateByZeroAreTheIdentity) {
  Tensor img = randint(0, 256, {3, 5, 8}, kUInt8);
  EXPECT_TRUE(kiln::test::allclose(hflip(hflip(img)).to(kFloat64), img.to(kFloat64), 0, 0));
  Tensor f = rand({2, 6, 7});
  EXPECT_TRUE(kiln::test::allclose(rotate(f, 0.0), f, 0, 0));
  EXPECT_TRUE(kiln::test::allclose(rotate(rotate(f, 180.0), 180.0), f, 0, 0));
}

TEST(Transforms, ToTensorAddsAChannelToTwoDimensionalImages) {
  Tensor img = tensor<double>({0, 51, 255, 102}, {2, 2}, kUInt8);
  EXPECT_TRUE(kiln::test::allclose(to_tensor(img), tensor<float>({0.0f, 0.2f, 1.0f, 0.4f}, {1, 2, 2})));
}

TEST(Transforms, CenterCropPadsWithZerosWhenLarger) {
  Tensor img = ones({1, 2, 3});
  Tensor out = center_crop(img, {4, 6});  // pads 1 row above and below, 1 column left and 2 right
  EXPECT_EQ(ints(out.to(kInt64)), (std::vector<int64_t>{0, 0, 0, 0, 0, 0,  //
                                                        0, 1, 1, 1, 0, 0,  //
                                                        0, 1, 1, 1, 0, 0,  //
                                                        0, 0, 0, 0, 0, 0}));
}

// ---- Transform objects and randomness ----

TEST(Transforms, FunctionObjectsMatchTheFunctions) {
  Generator gen(1);
  Tensor img = randint(0, 256, {3, 9, 12}, kUInt8, &gen);
  Tensor f = to_tensor(img);
  EXPECT_TRUE(kiln::test::allclose(ToTensor()(img), f));
  EXPECT_TRUE(kiln::test::allclose(Normalize({0.1, 0.2, 0.3}, {0.5, 0.6, 0.7})(f),
                                   normalize(f, {0.1, 0.2, 0.3}, {0.5, 0.6, 0.7})));
  EXPECT_TRUE(kiln::test::allclose(Resize(5)(f), resize(f, 5)));
  EXPECT_TRUE(kiln::test::allclose(CenterCrop({4, 7})(f), center_crop(f, {4, 7})));
  EXPECT_TRUE(kiln::test::allclose(Lambda([](const Tensor& x) { return hflip(x); })(f), hflip(f)));
  Compose pipeline({std::make_shared<ToTensor>(), std::make_shared<Resize>(IntList{6, 8}),
                    std::make_shared<Normalize>(std::vector<double>{0.5}, std::vector<double>{0.5})});
  EXPECT_TRUE(kiln::test::allclose(pipeline(img, gen), normalize(resize(f, {6, 8}), {0.5}, {0.5})));
  EXPECT_EQ(pipeline.transforms().size(), size_t(3));
}

TEST(Transforms, SameSeedGivesTheSameRandomOutputs) {
  Tensor img = rand({3, 20, 30});
  Compose augment({std::make_shared<RandomResizedCrop>(IntList{8, 8}), std::make_shared<RandomHorizontalFlip>(),
                   std::make_shared<RandomRotation>(30.0)});
  Generator a(42), b(42), c(43);
  bool any_different = false;
  for (int i = 0; i < 5; ++i) {
    Tensor x = augment(img, a);
    EXPECT_TRUE(kiln::test::allclose(x, augment(img, b), 0, 0)) << "draw " << i;
    any_different = any_different || !kiln::test::allclose(x, augment(img, c), 0, 0);
  }
  EXPECT_TRUE(any_different) << "another seed should give other crops";
}

TEST(Transforms, RandomHorizontalFlipFlipsWithProbabilityP) {
  Tensor img = rand({1, 2, 5});
  Tensor flipped = hflip(img);
  Generator gen(3);
  for (double p : {0.0, 0.3, 0.5, 1.0}) {
    RandomHorizontalFlip flip(p);
    int flips = 0;
    const int n = 2000;
    for (int i = 0; i < n; ++i) {
      Tensor out = flip(img, gen);
      bool was_flipped = kiln::test::allclose(out, flipped, 0, 0);
      EXPECT_TRUE(was_flipped || kiln::test::allclose(out, img, 0, 0));
      flips += was_flipped;
    }
    // 4.5 standard deviations of a binomial(n, p): fails by chance about once in 10^5 runs.
    EXPECT_NEAR(double(flips) / n, p, 4.5 * std::sqrt(p * (1 - p) / n) + 1e-12) << "p = " << p;
  }
}

TEST(Transforms, RandomResizedCropParamsStayInRangeAndDefineTheOutput) {
  Tensor img = rand({3, 37, 53});
  const std::pair<double, double> scale{0.2, 0.9}, ratio{0.5, 2.0};
  RandomResizedCrop transform(IntList{11, 13}, scale, ratio);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Generator for_params(seed), for_output(seed);
    CropParams p = RandomResizedCrop::get_params(img, scale, ratio, for_params);
    ASSERT_TRUE(p.height > 0 && p.width > 0 && p.top >= 0 && p.left >= 0 && p.top + p.height <= 37 &&
                p.left + p.width <= 53)
        << "seed " << seed;
    double area = double(p.height * p.width) / (37.0 * 53.0);
    double aspect = double(p.width) / double(p.height);
    // Rounding w and h to integers moves area and aspect a little past the bounds.
    EXPECT_TRUE(area > 0.2 * 0.8 && area < 0.9 * 1.2) << "area " << area;
    EXPECT_TRUE(aspect > 0.5 * 0.85 && aspect < 2.0 * 1.15) << "aspect " << aspect;
    Tensor out = transform(img, for_output);
    EXPECT_TRUE(kiln::test::allclose(out, resized_crop(img, p.top, p.left, p.height, p.width, {11, 13}), 0, 0));
    EXPECT_EQ(for_params.offset(), for_output.offset());
  }
}

TEST(Transforms, RandomResizedCropFallsBackToACentralCrop) {
  Generator gen(5);
  // Area fractions above 1 never fit: after 10 attempts the whole image when its aspect
  // ratio is within `ratio`, else the central crop with the ratio clamped.
  CropParams whole = RandomResizedCrop::get_params(rand({1, 10, 12}), {1.5, 2.0}, {0.75, 1.333}, gen);
  EXPECT_EQ((std::vector<int64_t>{whole.top, whole.left, whole.height, whole.width}),
            (std::vector<int64_t>{0, 0, 10, 12}));
  CropParams wide = RandomResizedCrop::get_params(rand({1, 10, 40}), {1.5, 2.0}, {0.75, 1.333}, gen);
  EXPECT_EQ((std::vector<int64_t>{wide.top, wide.left, wide.height, wide.width}),
            (std::vector<int64_t>{0, 13, 10, 13}));  // w = round(10 * 1.333) = 13, left = (40 - 13) / 2
  CropParams tall = RandomResizedCrop::get_params(rand({1, 41, 10}), {1.5, 2.0}, {0.75, 1.333}, gen);
  EXPECT_EQ((std::vector<int64_t>{tall.top, tall.left, tall.height, tall.width}),
            (std::vector<int64_t>{14, 0, 13, 10}));  // h = round(10 / 0.75) = 13, top = (41 - 13) / 2
}

TEST(Transforms, RandomRotationDrawsAnglesInRangeAndRotatesByThem) {
  Tensor img = rand({2, 9, 11});
  RandomRotation transform({-10.0, 25.0}, std::pair{3.0, 4.0}, 0.5);
  double lo = 1e9, hi = -1e9;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Generator for_angle(seed), for_output(seed);
    double angle = RandomRotation::get_params({-10.0, 25.0}, for_angle);
    ASSERT_TRUE(angle >= -10.0 && angle < 25.0) << angle;
    lo = std::min(lo, angle), hi = std::max(hi, angle);
    if (seed < 20) {
      EXPECT_TRUE(kiln::test::allclose(transform(img, for_output), rotate(img, angle, std::pair{3.0, 4.0}, 0.5), 0, 0));
    }
  }
  EXPECT_LT(lo, -8.0);
  EXPECT_GT(hi, 23.0);
}

// ---- bad input ----

TEST(Transforms, RejectBadInputWithClearMessages) {
  Tensor img = rand({3, 6, 8});
  EXPECT_THAT(error_of([&] { resize(rand({6, 8}), 4); }),
              HasSubstr("resize: expected a [C, H, W] image, got float32[6, 8]"));
  EXPECT_THAT(error_of([&] { hflip(rand({1, 3, 6, 8})); }), HasSubstr("hflip: expected a [C, H, W] image"));
  EXPECT_THAT(error_of([&] { rotate(zeros({3, 4, 4}, kInt64), 10); }),
              HasSubstr("rotate: expected a uint8, float32 or float64 image, got int64[3, 4, 4]"));
  EXPECT_THAT(error_of([&] { resize(img, {0, 4}); }), HasSubstr("resize: expected positive sizes, got [0, 4]"));
  EXPECT_THAT(error_of([&] { resize(img, {1, 2, 3}); }), HasSubstr("resize: expected a size {h, w} or {s}"));
  EXPECT_THAT(error_of([&] { resize(img, -3); }), HasSubstr("resize: expected positive sizes, got [-3]"));
  EXPECT_THAT(error_of([&] { crop(img, 2, 5, 4, 4); }),
              HasSubstr("crop: the 4 x 4 crop at (top 2, left 5) reaches outside the image float32[3, 6, 8]"));
  EXPECT_THAT(error_of([&] { crop(img, -1, 0, 2, 2); }), HasSubstr("reaches outside the image"));
  EXPECT_THAT(error_of([&] { crop(img, 0, 0, 0, 2); }), HasSubstr("crop: expected a positive height and width"));
  EXPECT_THAT(error_of([&] { center_crop(img, {0}); }), HasSubstr("center_crop: expected positive sizes"));
  EXPECT_THAT(error_of([&] { normalize(img, {0.5, 0.5}, {0.2, 0.2}); }),
              HasSubstr("normalize: expected mean and std with one entry per channel (3) or one for all, got 2 "
                        "means and 2 stds"));
  EXPECT_THAT(error_of([&] { normalize(img, {0.5}, {0.0}); }), HasSubstr("normalize: std evaluated to zero"));
  EXPECT_THAT(error_of([&] { normalize(zeros({3, 2, 2}, kUInt8), {0.5}, {0.5}); }),
              HasSubstr("normalize: expected a float32 or float64 image, got uint8[3, 2, 2]"));
  EXPECT_THAT(error_of([&] { to_tensor(img); }),
              HasSubstr("to_tensor: expected a uint8 [C, H, W] or [H, W] image, got float32[3, 6, 8]"));
  EXPECT_THAT(error_of([&] { rotate(img, NAN); }), HasSubstr("rotate: expected a finite angle"));
  EXPECT_THAT(error_of([] { RandomHorizontalFlip(1.5); }),
              HasSubstr("RandomHorizontalFlip: expected a probability in [0, 1], got 1.5"));
  EXPECT_THAT(error_of([] { RandomResizedCrop(IntList{8}, {0.9, 0.1}); }),
              HasSubstr("RandomResizedCrop: expected 0 <= scale.first <= scale.second, got (0.9, 0.1)"));
  EXPECT_THAT(error_of([] { RandomResizedCrop(IntList{8}, {0.1, 1.0}, {0.0, 1.0}); }),
              HasSubstr("RandomResizedCrop: expected 0 < ratio.first <= ratio.second"));
  EXPECT_THAT(error_of([] { RandomResizedCrop(IntList{0, 3}); }), HasSubstr("RandomResizedCrop: expected positive"));
  EXPECT_THAT(error_of([] { RandomRotation(-5.0); }), HasSubstr("RandomRotation: expected non-negative degrees"));
  EXPECT_THAT(error_of([] { RandomRotation(std::pair{10.0, -10.0}); }),
              HasSubstr("RandomRotation: expected degrees (min, max) with min <= max, got (10, -10)"));
  EXPECT_THAT(error_of([] { Resize(IntList{}); }), HasSubstr("Resize: expected a size {h, w} or {s}"));
  EXPECT_THAT(error_of([] { Compose({nullptr}); }), HasSubstr("Compose: got a null transform"));
  EXPECT_THAT(error_of([] { Normalize({0.1, 0.2}, {0.3}); }),
              HasSubstr("Normalize: expected as many means as stds, got 2 and 1"));
}

}  // namespace
}  // namespace kiln::nn::data::transforms
