// The fused batch norm (ops/norm.h native_batch_norm, the CPU path of
// nn::functional::batch_norm): PyTorch references for 2-D, 3-D and 4-D inputs in training
// and eval, running-statistic updates and gradients (tests/reference/gen_batch_norm.py),
// float64 gradchecks and gradgradchecks, the unfused formula on threaded shapes and on
// every CPU ISA path, thread count independence, and errors.
#include <gmock/gmock.h>

#include "kiln.h"
#include "nn/norm.h"
#include "ops/cpu/parallel.h"
#include "ops/norm.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/isa.h"

namespace kiln {
namespace {

namespace F = nn::functional;
using test::allclose;
using test::error_of;
using ::testing::HasSubstr;

// The running statistics of gen_batch_norm.py's running_stats(c).
std::pair<Tensor, Tensor> running_stats(int64_t c, DType dtype) {
  std::vector<double> m, v;
  for (int64_t i = 0; i < c; ++i) m.push_back(0.1 * double(i + 1) - 0.25), v.push_back(0.5 + 0.25 * double(i));
  return {tensor<double>(m).to(dtype), tensor<double>(v).to(dtype)};
}

Tensor input_or_none(const TensorList& x, size_t i) { return x.size() > i ? x[i] : Tensor(); }

const test::OpTable& batch_norm_ops() {
  static const test::OpTable table = {
      {"train",
       [](const TensorList& x) {
         return test::one(F::batch_norm(x[0], {}, {}, input_or_none(x, 1), input_or_none(x, 2), true));
       }},
      {"eval",
       [](const TensorList& x) {
         auto [m, v] = running_stats(x[0].size(1), x[0].dtype());
         return test::one(F::batch_norm(x[0], m, v, input_or_none(x, 1), input_or_none(x, 2), false));
       }},
      {"running",
       [](const TensorList& x) {
         auto [m, v] = running_stats(x[0].size(1), x[0].dtype());
         Tensor y = F::batch_norm(x[0], m, v, input_or_none(x, 1), input_or_none(x, 2), true, /*momentum=*/0.3);
         return TensorList{y, m, v};
       }},
  };
  return table;
}

KILN_REFERENCE_SUITE(BatchNormRef, "batch_norm", batch_norm_ops());

// The composite formula nn::functional::batch_norm used before the fused op.
Tensor unfused(const Tensor& x, const Tensor& w, const Tensor& b, bool training, const Tensor& rm,
               const Tensor& rv) {
  Shape per_channel(size_t(x.dim()), 1);
  per_channel[1] = x.size(1);
  IntList dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor y = training ? (x - mean(x, dims, true)) * rsqrt(var(x, dims, false, true) + 1e-5)
                      : (x - rm.reshape(per_channel)) * rsqrt(rv.reshape(per_channel) + 1e-5);
  if (w.defined()) y = y * w.reshape(per_channel);
  if (b.defined()) y = y + b.reshape(per_channel);
  return y;
}

// Shapes large enough to split over threads, on both kernel paths (spatial size >= 64 and
// below: 144, 1, 5 and 36), in training and eval, with and without affine.
TEST(NativeBatchNorm, MatchesTheUnfusedFormulaOnThreadedShapes) {
  const Shape shapes[] = {{16, 24, 12, 12}, {4096, 40}, {64, 37, 5}, {64, 24, 6, 6}};
  Generator gen(7);
  for (const Shape& shape : shapes) {
    const int64_t c = shape[1];
    for (int mode = 0; mode < 4; ++mode) {
      const bool training = mode & 1, affine = mode & 2;
      SCOPED_TRACE(testing::Message() << shape << (training ? " training" : " eval") << (affine ? " affine" : ""));
      Tensor x = (randn(shape, kFloat64, &gen) * 3.0 + 2.0).requires_grad_();
      Tensor w = affine ? randn({c}, kFloat64, &gen).requires_grad_() : Tensor();
      Tensor b = affine ? randn({c}, kFloat64, &gen).requires_grad_() : Tensor();
      auto [rm, rv] = running_stats(c, kFloat64);
      Tensor g = randn(shape, kFloat64, &gen);
      Tensor y = native_batch_norm(x, w, b, training ? Tensor() : rm, training ? Tensor() : rv, training, 0.1, 1e-5);
      Tensor ref = unfused(x, w, b, training, rm, rv);
      EXPECT_TRUE(allclose(y, ref, 1e-11, 1e-12));
      TensorList inputs{x};
      if (affine) inputs.push_back(w), inputs.push_back(b);
      TensorList got = grad({sum(y * g)}, inputs), want = grad({sum(ref * g)}, inputs);
      for (size_t i = 0; i < inputs.size(); ++i) EXPECT_TRUE(allclose(got[i], want[i], 1e-9, 1e-10)) << "input " << i;
    }
  }
}

// float32 on every CPU ISA path (Note [SIMD row kernels]), both kernel paths.
class NativeBatchNormFloat32 : public test::IsaTest {};

TEST_P(NativeBatchNormFloat32, MatchesTheUnfusedFormula) {
  Generator gen(8);
  for (const Shape& shape : {Shape{32, 16, 8, 8}, Shape{512, 20}, Shape{8, 5, 3, 3}}) {
    Tensor x = randn(shape, kFloat32, &gen).requires_grad_();
    Tensor w = randn({shape[1]}, kFloat32, &gen).requires_grad_(), b = randn({shape[1]}, kFloat32, &gen);
    Tensor g = randn(shape, kFloat32, &gen);
    Tensor y = native_batch_norm(x, w, b, {}, {}, true, 0.1, 1e-5), ref = unfused(x, w, b, true, {}, {});
    EXPECT_TRUE(allclose(y, ref, 1e-4, 1e-5)) << shape;
    TensorList got = grad({sum(y * g)}, {x, w}), want = grad({sum(ref * g)}, {x, w});
    EXPECT_TRUE(allclose(got[0], want[0], 1e-3, 1e-4)) << shape;
    EXPECT_TRUE(allclose(got[1], want[1], 1e-3, 1e-3)) << shape;
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, NativeBatchNormFloat32,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

// The per-plane and per-channel-block sums are folded in a fixed order: the result is
// the same bits on one thread and on several.
TEST(NativeBatchNorm, SameResultForAnyThreadCount) {
  Generator gen(9);
  for (const Shape& shape : {Shape{32, 8, 16, 16}, Shape{8192, 12}}) {
    Tensor x = randn(shape, kFloat32, &gen), w = randn({shape[1]}, kFloat32, &gen);
    Tensor g = randn(shape, kFloat32, &gen);
    auto run = [&](int threads) {
      cpu::set_num_threads(threads);
      Tensor xr = x.detach().requires_grad_(), wr = w.detach().requires_grad_();
      Tensor rm = zeros({shape[1]}), rv = ones({shape[1]});
      Tensor y = native_batch_norm(xr, wr, {}, rm, rv, true, 0.1, 1e-5);
      TensorList d = grad({sum(y * g)}, {xr, wr});
      cpu::set_num_threads(0);
      return TensorList{y, d[0], d[1], rm, rv};
    };
    TensorList one = run(1), many = run(4);
    for (size_t i = 0; i < one.size(); ++i)
      EXPECT_TRUE(allclose(one[i], many[i], 0, 0)) << shape << " result " << i;
  }
}

TEST(NativeBatchNorm, SecondOrderGradcheckOnBothKernelPaths) {
  Generator gen(10);
  for (const Shape& shape : {Shape{2, 2, 4, 5}, Shape{3, 2, 2}}) {
    for (bool training : {true, false}) {
      auto [rm, rv] = running_stats(shape[1], kFloat64);
      Tensor x = randn(shape, kFloat64, &gen).requires_grad_();
      Tensor w = randn({shape[1]}, kFloat64, &gen).requires_grad_(), b = randn({shape[1]}, kFloat64, &gen);
      auto f = [&](const TensorList& in) {
        return TensorList{native_batch_norm(in[0], in[1], b, rm, rv, training, 0.1, 1e-5)};
      };
      GradcheckResult r = gradgradcheck(f, {x, w});
      EXPECT_TRUE(r.ok) << shape << " training " << training << ": " << r.message;
    }
  }
}

TEST(NativeBatchNorm, GradientsOfParametersAloneAndRunningStatisticsUntouchedInEval) {
  Tensor x = randn({4, 3, 5}), w = randn({3}).requires_grad_(), b = randn({3}).requires_grad_();
  auto [rm, rv] = running_stats(3, kFloat32);
  Tensor rm0 = rm.clone(), rv0 = rv.clone();
  Tensor y = native_batch_norm(x, w, b, rm, rv, false, 0.1, 1e-5);
  EXPECT_TRUE(allclose(rm, rm0, 0, 0));
  EXPECT_TRUE(allclose(rv, rv0, 0, 0));
  Tensor g = randn({4, 3, 5});
  TensorList d = grad({sum(y * g)}, {w, b});
  Tensor ref = unfused(x, w, b, false, rm, rv);
  TensorList want = grad({sum(ref * g)}, {w, b});
  EXPECT_TRUE(allclose(d[0], want[0], 1e-4, 1e-5));
  EXPECT_TRUE(allclose(d[1], want[1], 1e-4, 1e-5));
}

TEST(NativeBatchNorm, ErrorsNameTheOpAndTheOffendingTensor) {
  Tensor x = randn({4, 3, 2});
  EXPECT_EQ(error_of([&] { native_batch_norm(randn({5}), {}, {}, {}, {}, true, 0.1, 1e-5); }),
            "native_batch_norm: expected an input of at least 2 dims (N, C, ...), got float32[5] on cpu");
  EXPECT_EQ(error_of([&] { native_batch_norm(ones({4, 3}, kInt64), {}, {}, {}, {}, true, 0.1, 1e-5); }),
            "native_batch_norm: expected a float32 or float64 input, got int64[4, 3] on cpu");
  EXPECT_EQ(error_of([&] { native_batch_norm(x, randn({4}), {}, {}, {}, true, 0.1, 1e-5); }),
            "native_batch_norm: expected per-channel tensors of shape [3] with the input's dtype and device, got "
            "float32[4] on cpu for input float32[4, 3, 2] on cpu");
  EXPECT_THAT(error_of([&] { native_batch_norm(x, {}, randn({3}, kFloat64), {}, {}, true, 0.1, 1e-5); }),
              HasSubstr("got float64[3] on cpu for input float32[4, 3, 2] on cpu"));
  EXPECT_EQ(error_of([&] { native_batch_norm(x, {}, {}, zeros({3}), {}, false, 0.1, 1e-5); }),
            "native_batch_norm: running_mean and running_var are needed when not training");
  EXPECT_EQ(error_of([&] { native_batch_norm(randn({1, 3, 1}), {}, {}, {}, {}, true, 0.1, 1e-5); }),
            "native_batch_norm: expected more than 1 value per channel when training, got input "
            "float32[1, 3, 1] on cpu");
  EXPECT_EQ(error_of([&] { F::batch_norm(randn({1, 3}), {}, {}, {}, {}, true); }),
            "batch_norm: expected more than 1 value per channel when training, got input float32[1, 3] on cpu");
  EXPECT_EQ(error_of([&] { F::batch_norm(x, {}, {}, ones({2}), {}, true); }),
            "batch_norm: expected per-channel tensors of shape [3] for input float32[4, 3, 2] on cpu, got "
            "float32[2] on cpu");
}

}  // namespace
}  // namespace kiln
