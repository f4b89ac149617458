// max_pool2d_with_indices (ops/pool.h) beyond the PyTorch reference cases of
// tests/nn/conv_test.cpp: NaN, -inf, ties, padding, 16-bit floats, large planes across
// threads against the composite (im2col + max), a window sum in the backward, and errors.
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

TEST(MaxPool2d, NanPropagatesAndTheLastNanIsTheIndex) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // One 2x3 window over a 2x3 plane.
  Tensor x = tensor<float>({1, nan, 3, nan, 5, 0}).reshape({1, 1, 2, 3});
  ValuesIndices r = max_pool2d_with_indices(x, {2, 3});
  EXPECT_TRUE(std::isnan(r.values.item<float>()));
  EXPECT_EQ(r.indices.item<int64_t>(), 3);  // PyTorch's CPU kernel: a later NaN replaces an earlier one
}

TEST(MaxPool2d, TiesGoToTheFirstAndMinusInfinityKeepsTheFirstPixel) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = tensor<float>({2, 7, 7, 1, -inf, -inf, -inf, -inf}).reshape({1, 1, 2, 4});
  ValuesIndices r = max_pool2d_with_indices(x, {1, 2}, {1, 2});
  EXPECT_EQ(r.values.to_vector<float>(), (std::vector<float>{7, 7, -inf, -inf}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 4, 6}));
  // The gradient follows the indices.
  Tensor xg = x.clone().requires_grad_();
  Tensor y = max_pool2d_with_indices(xg, {1, 2}, {1, 2}).values;
  Tensor g = grad({y}, {xg}, {tensor<float>({1, 2, 3, 4}).reshape({1, 1, 2, 2})})[0];
  EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{0, 1, 2, 0, 3, 0, 4, 0}));
}

TEST(MaxPool2d, PaddingNeverWins) {
  // All values negative: a zero pad would win every border window.
  Tensor x = -(arange(16.0).to(kFloat32) + 1).reshape({1, 1, 4, 4});
  ValuesIndices r = max_pool2d_with_indices(x, {3, 3}, {2, 2}, {1, 1});
  EXPECT_EQ(r.values.to_vector<float>(), (std::vector<float>{-1, -2, -5, -6}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 4, 5}));
}

TEST(MaxPool2d, OverlappingWindowsSumTheirGradients) {
  // 3x3 windows with stride 1 over a plane whose maximum is in the middle: every one of
  // the 9 windows (padding 1) that contains it sends its gradient there.
  Tensor x = zeros({1, 1, 3, 3});
  x.data_ptr<float>()[4] = 1;
  x.requires_grad_();
  Tensor y = max_pool2d_with_indices(x, {3, 3}, {1, 1}, {1, 1}).values;
  Tensor g = grad({sum(y)}, {x})[0];
  EXPECT_FLOAT_EQ(g.data_ptr<float>()[4], 9.0f);
  EXPECT_FLOAT_EQ(sum(g).item<float>(), 9.0f);
}

// Many planes, so that threads share them, against the composite it replaced: im2col's
// windows and max over them (the first maximum; the random values have no ties).
TEST(MaxPool2d, MatchesTheWindowMaximumOnLargeInputs) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = randn({4, 24, 17, 15}, dtype).requires_grad_();
    ValuesIndices r = max_pool2d_with_indices(x, {3, 3}, {2, 2}, {1, 1});
    Tensor padded = pad(x.detach(), {1, 1, 1, 1}, "constant", -std::numeric_limits<double>::infinity());
    Tensor windows = im2col(padded, {3, 3}, {1, 1}, {0, 0}, {2, 2}).reshape({4, 24, 9, 8 * 9});
    Tensor want = max(windows, 2).values.reshape({4, 24, 9, 8});
    EXPECT_TRUE(allclose(r.values, want, 0, 0));
    // The index names a pixel holding the value.
    Tensor picked = gather(x.detach().reshape({96, 17 * 15}), 1, r.indices.reshape({96, 72}));
    EXPECT_TRUE(allclose(picked.reshape(want.shape()), want, 0, 0));
    Tensor gy = randn(want.shape(), dtype);
    Tensor gx = grad({r.values}, {x}, {gy})[0];
    Tensor want_gx = scatter_add(zeros({96, 17 * 15}, dtype), 1, r.indices.reshape({96, 72}), gy.reshape({96, 72}));
    EXPECT_TRUE(allclose(gx, want_gx.reshape(x.shape()), 1e-6, 1e-6));
  }
}

TEST(MaxPool2d, SixteenBitFloatsGiveTheFloat32Values) {
  Tensor x = randn({2, 3, 9, 9});
  for (DType dtype : {kBFloat16, kFloat16}) {
    Tensor xh = x.to(dtype);
    ValuesIndices r = max_pool2d_with_indices(xh, {3, 3}, {2, 2}, {1, 1});
    ValuesIndices want = max_pool2d_with_indices(xh.to(kFloat32), {3, 3}, {2, 2}, {1, 1});
    EXPECT_EQ(r.values.dtype(), dtype);
    EXPECT_TRUE(allclose(r.values.to(kFloat32), want.values, 0, 0));
    EXPECT_EQ(r.indices.to_vector<int64_t>(), want.indices.to_vector<int64_t>());
  }
}

TEST(MaxPool2d, Errors) {
  EXPECT_EQ(error_of([] { max_pool2d_with_indices(zeros({3, 4, 4}), {2, 2}); }),
            "max_pool2d: expected a 4-D input (N, C, H, W), got float32[3, 4, 4] on cpu");
  EXPECT_EQ(error_of([] { max_pool2d_with_indices(zeros({1, 1, 4, 4}, kInt64), {2, 2}); }),
            "max_pool2d: expected a floating input (float32, float64, float16 or bfloat16), got int64[1, 1, 4, 4] "
            "on cpu");
  EXPECT_EQ(error_of([] { max_pool2d_with_indices(zeros({1, 1, 4, 4}), {2, 2}, {0, 1}); }),
            "max_pool2d: stride must be at least 1, got [0, 1]");
  EXPECT_EQ(error_of([] { max_pool2d_with_indices(zeros({1, 1, 4, 4}), {3}); }),
            "max_pool2d: kernel_size must be a (h, w) pair, got [3]");
  EXPECT_EQ(error_of([] { max_pool2d_with_indices(zeros({1, 1, 4, 4}), {2, 2}, {}, {2, 0}); }),
            "max_pool2d: padding [2, 0] must be at most half of kernel_size [2, 2]");
  EXPECT_EQ(error_of([] { max_pool2d_with_indices(zeros({1, 1, 2, 2}), {3, 3}); }),
            "max_pool2d: kernel [3, 3] with dilation [1, 1] does not fit in float32[1, 1, 2, 2] on cpu padded by "
            "[0, 0]");
  // Taps at -1 and 2 of a 2-pixel row: the first window sees only padding.
  EXPECT_EQ(error_of([] { max_pool2d_with_indices(zeros({1, 1, 2, 2}), {1, 2}, {1, 1}, {0, 1}, {1, 3}); }),
            "max_pool2d: with kernel [1, 2], dilation [1, 3] and padding [0, 1] some window of float32[1, 1, 2, 2] "
            "on cpu holds only padding");
}

}  // namespace
}  // namespace kiln
