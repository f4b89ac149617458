// Autocast (core/autocast.h): the scope and its nesting, PyTorch's cast policy op by op,
// gradients flowing back to float32 parameters, a two-layer MLP against
// torch.autocast("cpu", dtype=torch.bfloat16) (tests/reference/gen_amp.py), and an MLP
// that trains under autocast with a GradScaler.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kiln.h"
#include "nn/data/npy.h"
#include "nn/nn.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/files.h"

namespace kiln {
namespace {

using test::error_of;
using ::testing::HasSubstr;

const std::string kDir = std::string(KILN_REFERENCE_DIR) + "/amp/";
Tensor load(const std::string& name) { return nn::data::read_npy(kDir + name + ".npy"); }

TEST(Autocast, ScopesNestAndRestore) {
  EXPECT_EQ(default_autocast_dtype(DeviceType::CPU), kBFloat16);
  EXPECT_EQ(default_autocast_dtype(DeviceType::CUDA), kFloat16);
  EXPECT_FALSE(is_autocast_enabled(DeviceType::CPU));
  {
    AutocastGuard outer(DeviceType::CPU);
    EXPECT_TRUE(is_autocast_enabled(DeviceType::CPU));
    EXPECT_FALSE(is_autocast_enabled(DeviceType::CUDA));
    EXPECT_EQ(get_autocast_dtype(DeviceType::CPU), kBFloat16);
    {
      AutocastGuard inner(DeviceType::CPU, kFloat16);
      EXPECT_EQ(get_autocast_dtype(DeviceType::CPU), kFloat16);
      EXPECT_EQ(mm(ones({2, 2}), ones({2, 2})).dtype(), kFloat16);
      {
        AutocastGuard off(DeviceType::CPU, std::nullopt, false);
        EXPECT_FALSE(is_autocast_enabled(DeviceType::CPU));
        EXPECT_EQ(mm(ones({2, 2}), ones({2, 2})).dtype(), kFloat32);
      }
      EXPECT_TRUE(is_autocast_enabled(DeviceType::CPU));
    }
    EXPECT_EQ(get_autocast_dtype(DeviceType::CPU), kBFloat16);
    EXPECT_EQ(mm(ones({2, 2}), ones({2, 2})).dtype(), kBFloat16);
  }
  EXPECT_FALSE(is_autocast_enabled(DeviceType::CPU));
  EXPECT_EQ(mm(ones({2, 2}), ones({2, 2})).dtype(), kFloat32);
}

TEST(Autocast, RejectsNon16BitDtypes) {
  EXPECT_THAT(error_of([] { AutocastGuard g(DeviceType::CPU, kFloat32); }),
              HasSubstr("expected float16 or bfloat16 as the autocast dtype, got float32"));
  EXPECT_FALSE(is_autocast_enabled(DeviceType::CPU));
}

TEST(Autocast, PolicyOpByOp) {
  AutocastGuard guard(DeviceType::CPU);
  Tensor a = ones({3, 4}), b = ones({4, 2}), bias = zeros({2});
  EXPECT_EQ(matmul(a, b).dtype(), kBFloat16);
  EXPECT_EQ(matmul(ones({2, 3, 4}), b).dtype(), kBFloat16);
  EXPECT_EQ(bmm(ones({2, 3, 4}), ones({2, 4, 5})).dtype(), kBFloat16);
  EXPECT_EQ(addmm(bias, a, b).dtype(), kBFloat16);
  EXPECT_EQ(nn::functional::linear(a, ones({2, 4}), bias).dtype(), kBFloat16);
  EXPECT_EQ(nn::functional::linear(ones({5, 3, 4}), ones({2, 4}), bias).dtype(), kBFloat16);
  // float64 is never cast, as in PyTorch.
  EXPECT_EQ(mm(ones({2, 2}, kFloat64), ones({2, 2}, kFloat64)).dtype(), kFloat64);
  // Other ops keep their inputs' dtype.
  Tensor h = mm(a, b);
  EXPECT_EQ(relu(h).dtype(), kBFloat16);
  EXPECT_EQ((h + 1.0).dtype(), kBFloat16);
  EXPECT_EQ((a + 1.0).dtype(), kFloat32);
  // float32 ops.
  EXPECT_EQ(sum(h).dtype(), kFloat32);
  EXPECT_EQ(prod(h).dtype(), kFloat32);
  EXPECT_EQ(nn::functional::mse_loss(h, zeros({3, 2})).dtype(), kFloat32);
  EXPECT_EQ(nn::functional::cross_entropy(h, tensor<int64_t>({0, 1, 1})).dtype(), kFloat32);
  EXPECT_EQ(nn::functional::binary_cross_entropy_with_logits(h, zeros({3, 2})).dtype(), kFloat32);
  // The helpers leave integers and undefined tensors alone.
  Tensor idx = tensor<int64_t>({1, 2});
  EXPECT_TRUE(autocast_to_lower(idx).same_storage(idx));
  EXPECT_FALSE(autocast_to_float(Tensor()).defined());
}

// Convolutions run in the 16-bit dtype (im2col + GEMM: each product summed in float32 and
// rounded once), softmax, log_softmax and layer norm in float32, and their gradients
// reach float32 parameters as float32.
TEST(Autocast, ConvolutionAndNormalisationPolicy) {
  Tensor x = randn({2, 3, 6, 5}), w = randn({4, 3, 3, 3}).requires_grad_(), bias = randn({4});
  Tensor reference = nn::functional::conv2d(x, w.detach(), bias, {1, 1}, {1, 1}, {1, 1}, 1);
  Tensor y, yt;
  {
    AutocastGuard guard(DeviceType::CPU);
    y = nn::functional::conv2d(x, w, bias, {1, 1}, {1, 1}, {1, 1}, 1);
    yt = nn::functional::conv_transpose2d(x, randn({3, 4, 2, 2}), Tensor(), {2, 2}, {0, 0}, {0, 0}, 1, {1, 1});
    EXPECT_EQ(softmax(y, 1).dtype(), kFloat32);
    EXPECT_EQ(log_softmax(y, 1).dtype(), kFloat32);
    EXPECT_EQ(nn::functional::layer_norm(y, {5}, Tensor(), Tensor(), 1e-5).dtype(), kFloat32);
  }
  EXPECT_EQ(y.dtype(), kBFloat16);
  EXPECT_EQ(yt.dtype(), kBFloat16);
  // Inputs rounded to bfloat16 (8 bits) and the result rounded once: a few 1e-2 relative.
  EXPECT_TRUE(test::allclose(y.to(kFloat32), reference, 3e-2, 5e-2));
  y.to(kFloat32).sum().backward();
  EXPECT_EQ(w.grad().dtype(), kFloat32);
}

TEST(Autocast, ACudaScopeLeavesCpuTensorsAlone) {
  AutocastGuard guard(DeviceType::CUDA);
  EXPECT_EQ(mm(ones({2, 2}), ones({2, 2})).dtype(), kFloat32);
  EXPECT_EQ(sum(ones({2}, kBFloat16)).dtype(), kBFloat16);
}

TEST(Autocast, Float32ParametersGetFloat32Gradients) {
  Tensor w = full({2, 3}, 0.5).requires_grad_();
  Tensor x = full({4, 3}, 2.0);
  Tensor loss;
  {
    AutocastGuard guard(DeviceType::CPU);
    Tensor y = nn::functional::linear(x, w);
    ASSERT_EQ(y.dtype(), kBFloat16);
    loss = sum(y);
  }
  ASSERT_EQ(loss.dtype(), kFloat32);
  EXPECT_EQ(loss.item<float>(), 4 * 2 * 3.0f);
  loss.backward();
  ASSERT_EQ(w.grad().dtype(), kFloat32);
  EXPECT_TRUE(test::same_tensor(w.grad(), full({2, 3}, 8.0)));
}

TEST(Autocast, MlpMatchesTorchAutocastBFloat16) {
  Tensor x = load("mlp_x"), y = load("mlp_y");
  Tensor w1 = load("mlp_w1").requires_grad_(), b1 = load("mlp_b1").requires_grad_();
  Tensor w2 = load("mlp_w2").requires_grad_(), b2 = load("mlp_b2").requires_grad_();
  Tensor logits, loss;
  {
    AutocastGuard guard(DeviceType::CPU);
    Tensor h = relu(nn::functional::linear(x, w1, b1));
    logits = nn::functional::linear(h, w2, b2);
    loss = nn::functional::cross_entropy(logits, y);
  }
  ASSERT_EQ(logits.dtype(), kBFloat16);
  ASSERT_EQ(loss.dtype(), kFloat32);
  // One bfloat16 ulp of slack for a different float32 summation order in the GEMMs.
  EXPECT_TRUE(test::allclose(logits.to(kFloat32), load("mlp_logits"), 0x1p-7, 0x1p-8));
  EXPECT_TRUE(test::allclose(loss, load("mlp_loss"), 1e-2, 0.0));
  (loss * 1024.0).backward();
  for (auto [name, p] : {std::pair{"w1", w1}, {"b1", b1}, {"w2", w2}, {"b2", b2}}) {
    ASSERT_EQ(p.grad().dtype(), kFloat32) << name;
    EXPECT_TRUE(test::allclose(p.grad() / 1024.0, load(std::string("mlp_grad_") + name), 0.03, 2e-3)) << name;
  }
}

TEST(Autocast, MlpTrainsWithAGradScaler) {
  Generator gen(7);
  // Three Gaussian blobs in 4-D, labels 0..2.
  Tensor centers = randn({3, 4}, {}, &gen) * 3.0;
  Tensor y = randint(0, 3, {96}, DType::Int64, &gen);
  Tensor x = index_select(centers, 0, y) + randn({96, 4}, {}, &gen) * 0.5;
  nn::Linear l1(4, 16), l2(16, 3);
  std::vector<Tensor> params = l1.parameters();
  for (const Tensor& p : l2.parameters()) params.push_back(p);
  nn::optim::SGD opt(params, {.lr = 0.1});
  nn::optim::GradScaler scaler;
  auto step = [&] {
    opt.zero_grad();
    Tensor loss;
    {
      AutocastGuard guard(DeviceType::CPU);
      loss = nn::functional::cross_entropy(l2.forward(relu(l1.forward(x))), y);
    }
    scaler.scale(loss).backward();
    EXPECT_TRUE(scaler.step(opt));
    scaler.update();
    return loss.item<double>();
  };
  const double first = step();
  double last = first;
  for (int i = 0; i < 60; ++i) last = step();
  EXPECT_LT(last, 0.3 * first) << "first " << first << ", last " << last;
  EXPECT_EQ(l1.weight.dtype(), kFloat32);
  EXPECT_EQ(scaler.get_scale(), 65536.0);
}

}  // namespace
}  // namespace kiln
