// Convolution, pooling and normalisation layers against PyTorch (forward, gradients,
// float64 gradcheck and double backward through the functional forms), plus layer
// shapes, initialisation, running statistics and errors.
#include <cmath>

#include "kiln.h"
#include "nn/conv.h"
#include "nn/functional.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/norm.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

namespace F = nn::functional;
using test::allclose;
using test::error_of;
using test::one;
using test::OpTable;

const OpTable& nn_ops() {
  static const OpTable table = {
      {"linear.bias", [](const TensorList& x) { return one(F::linear(x[0], x[1], x[2])); }},
      {"linear.batched_nobias", [](const TensorList& x) { return one(F::linear(x[0], x[1])); }},
      {"conv2d.basic", [](const TensorList& x) { return one(F::conv2d(x[0], x[1], x[2])); }},
      {"conv2d.stride_pad", [](const TensorList& x) { return one(F::conv2d(x[0], x[1], x[2], {2, 2}, {1, 1})); }},
      {"conv2d.dilation_rect",
       [](const TensorList& x) { return one(F::conv2d(x[0], x[1], {}, {1, 2}, {2, 1}, {2, 1})); }},
      {"conv2d.groups", [](const TensorList& x) { return one(F::conv2d(x[0], x[1], x[2], {1, 1}, {0, 0}, {1, 1}, 2)); }},
      {"conv2d.same", [](const TensorList& x) { return one(F::conv2d(x[0], x[1], {}, {1, 1}, "same")); }},
      {"conv2d.f64", [](const TensorList& x) { return one(F::conv2d(x[0], x[1], {}, {1, 1}, {1, 1})); }},
      {"conv1d.basic", [](const TensorList& x) { return one(F::conv1d(x[0], x[1], x[2], 2, 1)); }},
      {"conv1d.dilation_groups", [](const TensorList& x) { return one(F::conv1d(x[0], x[1], {}, 1, 0, 2, 2)); }},
      {"conv_transpose2d.basic", [](const TensorList& x) { return one(F::conv_transpose2d(x[0], x[1], x[2])); }},
      {"conv_transpose2d.stride_pad_outpad",
       [](const TensorList& x) { return one(F::conv_transpose2d(x[0], x[1], x[2], {2, 2}, {1, 1}, {1, 1})); }},
      {"conv_transpose2d.groups",
       [](const TensorList& x) { return one(F::conv_transpose2d(x[0], x[1], {}, {2, 2}, {0, 0}, {0, 0}, 2)); }},
      {"max_pool2d.basic", [](const TensorList& x) { return one(F::max_pool2d(x[0], {2, 2})); }},
      {"max_pool2d.stride_pad", [](const TensorList& x) { return one(F::max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1})); }},
      {"max_pool2d.unbatched", [](const TensorList& x) { return one(F::max_pool2d(x[0], {2, 3})); }},
      {"max_pool2d.resnet_stem", [](const TensorList& x) { return one(F::max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1})); }},
      {"max_pool2d_with_indices.overlap",
       [](const TensorList& x) {
         ValuesIndices r = max_pool2d_with_indices(x[0], {3, 3}, {1, 1}, {1, 1});
         return TensorList{r.values, r.indices};
       }},
      {"max_pool2d_with_indices.dilation_rect",
       [](const TensorList& x) {
         ValuesIndices r = max_pool2d_with_indices(x[0], {2, 3}, {2, 1}, {1, 1}, {2, 1});
         return TensorList{r.values, r.indices};
       }},
      {"max_pool2d_with_indices.f64",
       [](const TensorList& x) {
         ValuesIndices r = max_pool2d_with_indices(x[0], {2, 2}, {1, 1});
         return TensorList{r.values, r.indices};
       }},
      {"max_pool1d.basic", [](const TensorList& x) { return one(F::max_pool1d(x[0], 3, 2)); }},
      {"avg_pool2d.basic", [](const TensorList& x) { return one(F::avg_pool2d(x[0], {2, 2})); }},
      {"avg_pool2d.stride_pad", [](const TensorList& x) { return one(F::avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1})); }},
      {"avg_pool1d.basic", [](const TensorList& x) { return one(F::avg_pool1d(x[0], 2)); }},
      {"adaptive_avg_pool2d.one", [](const TensorList& x) { return one(F::adaptive_avg_pool2d(x[0], {1, 1})); }},
      {"adaptive_avg_pool2d.uneven", [](const TensorList& x) { return one(F::adaptive_avg_pool2d(x[0], {2, 3})); }},
      {"batch_norm.train2d", [](const TensorList& x) { return one(F::batch_norm(x[0], {}, {}, x[1], x[2], true)); }},
      {"batch_norm.train1d", [](const TensorList& x) { return one(F::batch_norm(x[0], {}, {}, {}, {}, true)); }},
      {"batch_norm.eval",
       [](const TensorList& x) {
         Tensor m = tensor<float>({0.1f, -0.2f, 0.3f}).to(x[0].dtype());
         Tensor v = tensor<float>({0.5f, 1.5f, 2.0f}).to(x[0].dtype());
         return one(F::batch_norm(x[0], m, v, x[1], x[2], false));
       }},
      {"layer_norm.last", [](const TensorList& x) { return one(F::layer_norm(x[0], {4}, x[1], x[2])); }},
      {"layer_norm.two_dims", [](const TensorList& x) { return one(F::layer_norm(x[0], {2, 3})); }},
      {"group_norm.basic", [](const TensorList& x) { return one(F::group_norm(x[0], 2, x[1], x[2])); }},
      {"e2e.cnn_cross_entropy",
       [](const TensorList& x) {
         Tensor h = F::conv2d(x[0], x[1], x[2], {1, 1}, {1, 1});
         h = F::batch_norm(h, {}, {}, x[3], x[4], /*training=*/true);
         h = F::max_pool2d(relu(h), {2, 2});
         return one(F::cross_entropy(F::linear(h.flatten(1), x[5], x[6]), x[7]));
       }},
  };
  return table;
}

KILN_REFERENCE_SUITE(NnRef, "nn", nn_ops());

TEST(Conv2d, LayerShapesAndPyTorchInitBounds) {
  nn::Conv2d conv(3, 8, {3, 3}, {2, 2}, {1, 1});
  EXPECT_EQ(conv.weight.shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(conv.forward(randn({2, 3, 9, 9})).shape(), (Shape{2, 8, 5, 5}));
  double bound = 1.0 / std::sqrt(27.0);
  EXPECT_LE(amax(abs(conv.weight)).item(), bound);
  EXPECT_LE(amax(abs(conv.bias)).item(), bound);
  EXPECT_EQ(conv.repr(), "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
  nn::Conv2d same(2, 2, {3, 3}, {1, 1}, "same");
  EXPECT_EQ(same.forward(randn({1, 2, 6, 7})).shape(), (Shape{1, 2, 6, 7}));
}

TEST(Conv2d, ErrorsNameShapes) {
  EXPECT_EQ(error_of([] { F::conv2d(randn({1, 3, 5, 5}), randn({4, 2, 3, 3})); }),
            "conv2d: input float32[1, 3, 5, 5] on cpu has 3 channels, but weight float32[4, 2, 3, 3] on cpu with "
            "groups = 1 expects 2");
  EXPECT_EQ(error_of([] { F::conv2d(randn({3, 5, 5}), randn({4, 3, 3, 3})); }),
            "conv2d: expected a 4-D input (N, C, H, W), got float32[3, 5, 5] on cpu");
  EXPECT_EQ(error_of([] { F::conv2d(randn({1, 1, 2, 2}), randn({1, 1, 3, 3})); }),
            "conv2d: the kernel (3, 3) with dilation [1, 1] does not fit in the padded input float32[1, 1, 2, 2] on "
            "cpu (padding [0, 0])");
  EXPECT_EQ(error_of([] { F::conv2d(randn({1, 1, 5, 5}), randn({1, 1, 3, 3}), {}, {2, 2}, "same"); }),
            "conv2d: padding='same' is not supported for strided convolutions");
}

TEST(ConvTranspose2d, IsTheAdjointOfConv2d) {
  // <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same stride and padding.
  Tensor x = randn({2, 3, 7, 6}, kFloat64), w = randn({4, 3, 3, 3}, kFloat64);
  Tensor y = randn({2, 4, 4, 3}, kFloat64);
  double lhs = (F::conv2d(x, w, {}, {2, 2}, {1, 1}) * y).sum().item();
  double rhs = (x * F::conv_transpose2d(y, w, {}, {2, 2}, {1, 1}, {0, 1})).sum().item();
  EXPECT_NEAR(lhs, rhs, 1e-9 * std::fabs(lhs));
}

TEST(BatchNorm, TracksRunningStatisticsLikePyTorch) {
  nn::BatchNorm1d bn(2, 1e-5, 0.5);
  Tensor x = tensor<float>({1, 10, 3, 20, 5, 30}, {3, 2});
  Tensor y = bn.forward(x);
  // batch mean (3, 20), unbiased var (4, 100): running = 0.5 * old + 0.5 * batch
  EXPECT_TRUE(allclose(bn.running_mean, tensor<float>({1.5f, 10.f}), 1e-6, 1e-6));
  EXPECT_TRUE(allclose(bn.running_var, tensor<float>({2.5f, 50.5f}), 1e-6, 1e-6));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  EXPECT_TRUE(allclose(mean(y, {0}), zeros({2}), 0, 1e-6));
  bn.eval();
  Tensor z = bn.forward(x);
  EXPECT_TRUE(allclose(z, (x - bn.running_mean) / sqrt(bn.running_var + 1e-5), 1e-5, 1e-6));
  EXPECT_EQ(error_of([&] { bn.train(); bn.forward(ones({1, 2})); }),
            "batch_norm: expected more than 1 value per channel when training, got input float32[1, 2] on cpu");
}

TEST(Pooling, ModulesAndShapes) {
  EXPECT_EQ(nn::MaxPool2d({2, 2}).forward(randn({1, 3, 8, 8})).shape(), (Shape{1, 3, 4, 4}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d({1, 1}).forward(randn({2, 5, 7, 7})).shape(), (Shape{2, 5, 1, 1}));
  EXPECT_EQ(nn::AvgPool1d(3).forward(randn({2, 4, 9})).shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(error_of([] { F::max_pool2d(randn({1, 1, 4, 4}), {2, 2}, {}, {2, 2}); }),
            "max_pool2d: padding [2, 2] must be at most half of kernel_size [2, 2]");
}

TEST(LayerNorm, NormalisesTheLastDims) {
  nn::LayerNorm ln({4});
  Tensor y = ln.forward(randn({3, 4}) * 5.0 + 2.0);
  EXPECT_TRUE(allclose(mean(y, {1}), zeros({3}), 0, 1e-5));
  EXPECT_EQ(ln.repr(), "LayerNorm((4,), eps=1e-05, elementwise_affine=True)");
  EXPECT_EQ(error_of([&] { ln.forward(randn({4, 3})); }),
            "layer_norm: input float32[4, 3] on cpu does not end in normalized_shape [4]");
}

}  // namespace
}  // namespace kiln
