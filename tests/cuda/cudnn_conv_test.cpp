// conv2d_cudnn (ops/conv_cudnn.h): DeviceParity of the forward and both gradients with the
// CPU's nn::functional::conv2d (im2col + GEMM) on the same random inputs, over strides,
// padding, dilation, groups, 1x1 kernels, a 1x1 input and odd sizes, in float32 and
// float64; the double backward (create_graph); and the argument errors raised before any
// CUDA call, which run on every machine. Parity tests skip without a device.
// Tolerances (atol + rtol |cpu|): float32 rtol 1e-4 with atol 1e-4 for y and dx (sums of
// at most 245 products of N(0, 1) values, worst-case rounding 245 * 2^-24 * |term| ~
// 1.5e-5; cuDNN runs in FMA math, no TF32, so only the order of the float32 sums
// differs) and atol 5e-4 for dw (sums of up to 200 products of N(0, 1) values, each
// term's rounding the same, 4x the margin for the larger sums); float64 1e-10 throughout.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>

#include "autograd/engine.h"
#include "core/storage.h"
#include "kiln.h"
#include "nn/conv.h"
#include "ops/conv_cudnn.h"
#include "support/check.h"
#include "support/cuda.h"
#include "support/errors.h"
#include "support/host_backend.h"

namespace kiln {
namespace {

using test::error_of;
using ::testing::HasSubstr;

// ---- errors checked before any CUDA call: every machine ----

TEST(CudaCudnnConv, CpuTensorIsAClearError) {
  std::string msg = error_of([] { conv2d_cudnn(randn({1, 2, 5, 5}), randn({3, 2, 3, 3}), {1, 1}, {0, 0}, {1, 1}, 1); });
  EXPECT_THAT(msg, HasSubstr("conv2d_cudnn: expected input and weight on the same CUDA device, got input "
                             "float32[1, 2, 5, 5] on cpu and weight float32[3, 2, 3, 3] on cpu"));
}

TEST(CudaCudnnConv, DtypeMismatchIsAClearError) {
  std::string msg = error_of(
      [] { conv2d_cudnn(randn({1, 2, 5, 5}), randn({3, 2, 3, 3}, kFloat64), {1, 1}, {0, 0}, {1, 1}, 1); });
  EXPECT_THAT(msg, HasSubstr("conv2d_cudnn: expected input and weight of one dtype, float32 or float64, got input "
                             "float32[1, 2, 5, 5] on cpu and weight float64[3, 2, 3, 3] on cpu"));
  std::string ints = error_of(
      [] { conv2d_cudnn(zeros({1, 2, 5, 5}, kInt64), zeros({3, 2, 3, 3}, kInt64), {1, 1}, {0, 0}, {1, 1}, 1); });
  EXPECT_THAT(ints, HasSubstr("float32 or float64, got input int64[1, 2, 5, 5] on cpu"));
}

TEST(CudaCudnnConv, WrongRankIsAClearError) {
  std::string msg = error_of([] { conv2d_cudnn(randn({2, 5, 5}), randn({3, 2, 3, 3}), {1, 1}, {0, 0}, {1, 1}, 1); });
  EXPECT_THAT(msg, HasSubstr("conv2d_cudnn: expected a 4-D input (N, C_in, H, W), got float32[2, 5, 5] on cpu"));
}

using test::HostMemoryBackend;  // support/host_backend.h

TEST(CudaCudnnConv, UnavailableIsAClearError) {
#ifndef KILN_WITH_CUDA
  EXPECT_FALSE(cudnn_is_available());
#endif
  if (cudnn_is_available()) GTEST_SKIP() << "cuDNN is available here; the error cannot be provoked";
  static HostMemoryBackend fake;  // outlives every tensor made on it
  DeviceBackend* real = register_backend(DeviceType::CUDA, &fake);
  std::string msg;
  {
    Tensor x = zeros({1, 2, 5, 5}).to(Device::cuda()), w = zeros({3, 2, 3, 3}).to(Device::cuda());
    msg = error_of([&] { conv2d_cudnn(x, w, {1, 1}, {0, 0}, {1, 1}, 1); });
  }
  register_backend(DeviceType::CUDA, real);
  EXPECT_THAT(msg, HasSubstr("conv2d_cudnn: cuDNN is not available (kiln was built without CUDA or cuDNN, or no CUDA "
                             "device was found)"));
}

#ifdef KILN_WITH_CUDA

using test::on_cpu;
using test::on_cuda;

// Skips, saying why, when this build or machine has no cuDNN (a device is checked first).
#define KILN_REQUIRE_CUDNN()    \
  KILN_REQUIRE_CUDA_DEVICE();   \
  if (!cudnn_is_available()) GTEST_SKIP() << "cuDNN is not available: kiln was built without it (see CMake's output)"

struct ConvCase {
  std::string name;
  Shape x, w;
  IntList stride, padding, dilation;
  int64_t groups;
};

const std::vector<ConvCase> kCases = {
    {"3x3_pad1", {2, 3, 8, 8}, {4, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
    {"3x3_stride2_odd", {2, 4, 9, 7}, {6, 4, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 1},
    {"3x5_mixed_groups2", {1, 6, 11, 13}, {4, 3, 3, 5}, {2, 1}, {2, 0}, {1, 2}, 2},
    {"1x1", {3, 8, 5, 5}, {8, 8, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1},
    {"1x1_stride2", {2, 6, 7, 7}, {10, 6, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1},
    {"depthwise", {2, 8, 10, 10}, {8, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 8},
    {"7x7_stem", {1, 3, 17, 15}, {5, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1},
    {"dilated_stride_drops_rows", {2, 4, 10, 9}, {4, 2, 2, 2}, {3, 3}, {0, 1}, {2, 2}, 2},
    {"1x1_input", {2, 16, 1, 1}, {16, 16, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
};

struct Tol {
  double rtol, atol, atol_dw;
};
Tol tol_for(DType d) { return d == kFloat64 ? Tol{1e-10, 1e-10, 1e-10} : Tol{1e-4, 1e-4, 5e-4}; }

// y, dL/dx, dL/dw of L = sum(conv(x, w) * r) on the CPU (im2col + GEMM) and through cuDNN.
struct Results {
  Tensor y, dx, dw;
};
Results run_cpu(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& r) {
  Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
  Tensor y = nn::functional::conv2d(xl, wl, {}, c.stride, c.padding, c.dilation, c.groups);
  (y * r).sum().backward();
  return {y.detach(), xl.grad(), wl.grad()};
}
Results run_cudnn(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& r) {
  Tensor xl = on_cuda(x).requires_grad_(), wl = on_cuda(w).requires_grad_();
  Tensor y = conv2d_cudnn(xl, wl, c.stride, c.padding, c.dilation, c.groups);
  (y * on_cuda(r)).sum().backward();
  return {on_cpu(y.detach()), on_cpu(xl.grad()), on_cpu(wl.grad())};
}

TEST(CudaCudnnConv, ForwardAndGradientsMatchCpu) {
  KILN_REQUIRE_CUDNN();
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const ConvCase& c : kCases) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      Tensor x = randn(c.x, dtype), w = randn(c.w, dtype);
      Tensor y_shape = nn::functional::conv2d(x, w, {}, c.stride, c.padding, c.dilation, c.groups);
      Tensor r = randn(y_shape.shape(), dtype);
      Results want = run_cpu(c, x, w, r), got = run_cudnn(c, x, w, r);
      const Tol t = tol_for(dtype);
      EXPECT_TRUE(test::allclose(got.y, want.y, t.rtol, t.atol)) << "forward";
      EXPECT_TRUE(test::allclose(got.dx, want.dx, t.rtol, t.atol)) << "grad of x";
      EXPECT_TRUE(test::allclose(got.dw, want.dw, t.rtol, t.atol_dw)) << "grad of w";
    }
  }
}

TEST(CudaCudnnConv, NonContiguousInputsMatchCpu) {
  KILN_REQUIRE_CUDNN();
  const ConvCase& c = kCases[1];
  Tensor x = randn(c.x), w = randn(c.w);
  Tensor want = nn::functional::conv2d(x, w, {}, c.stride, c.padding, c.dilation, c.groups);
  Tensor got = conv2d_cudnn(test::make_noncontiguous(on_cuda(x)), test::make_noncontiguous(on_cuda(w)), c.stride,
                            c.padding, c.dilation, c.groups);
  EXPECT_TRUE(test::allclose(on_cpu(got), want, 1e-4, 1e-4));
}

TEST(CudaCudnnConv, EmptyBatchGivesEmptyOutputAndZeroWeightGrad) {
  KILN_REQUIRE_CUDNN();
  Tensor x = on_cuda(randn({0, 3, 6, 6})).requires_grad_(), w = on_cuda(randn({4, 3, 3, 3})).requires_grad_();
  Tensor y = conv2d_cudnn(x, w, {1, 1}, {1, 1}, {1, 1}, 1);
  EXPECT_EQ(y.shape(), Shape({0, 4, 6, 6}));
  y.sum().backward();
  EXPECT_TRUE(test::allclose(on_cpu(w.grad()), zeros({4, 3, 3, 3}), 0, 0));
}

// With create_graph the gradients come from differentiable kiln ops; first and second
// order both match the CPU's (float64).
TEST(CudaCudnnConv, DoubleBackwardMatchesCpu) {
  KILN_REQUIRE_CUDNN();
  for (const ConvCase& c : {kCases[1], kCases[2], kCases[7]}) {
    SCOPED_TRACE(c.name);
    Tensor x = randn(c.x, kFloat64), w = randn(c.w, kFloat64);
    auto second_order = [&](bool cuda) {
      Tensor xl = (cuda ? on_cuda(x) : x).requires_grad_(), wl = (cuda ? on_cuda(w) : w).requires_grad_();
      Tensor y = cuda ? conv2d_cudnn(xl, wl, c.stride, c.padding, c.dilation, c.groups)
                      : nn::functional::conv2d(xl, wl, {}, c.stride, c.padding, c.dilation, c.groups);
      TensorList g = grad({(y * y).sum()}, {xl, wl}, {}, true, /*create_graph=*/true);
      // d/dw of |dL/dx|^2 + |dL/dw|^2 exercises both gradient formulas' own gradients.
      TensorList gg = grad({(g[0] * g[0]).sum() + (g[1] * g[1]).sum()}, {xl, wl});
      return std::vector<Tensor>{on_cpu(g[0].detach()), on_cpu(g[1].detach()), on_cpu(gg[0]), on_cpu(gg[1])};
    };
    std::vector<Tensor> want = second_order(false), got = second_order(true);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(test::allclose(got[i], want[i], 1e-10, 1e-9)) << i;
  }
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
