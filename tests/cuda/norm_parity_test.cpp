// DeviceParity of the fused normalisation kernels: batch norm (cuda/batch_norm.cu) and
// the fused softmax / log_softmax backwards (cuda/softmax.cu) against the CPU kernels on
// the same random inputs: every launch shape, training and eval, with and without the
// affine parameters, every gradient. Skips without a device (except the registration
// check). Tolerances follow tests/cuda/parity_test.cpp, widened where noted.
#include <functional>
#include <string>
#include <vector>

#include "kiln.h"
#include "ops/kernels/norm.h"
#include "ops/kernels/softmax.h"
#include "support/check.h"
#include "support/cuda.h"

namespace kiln {
namespace {

#ifdef KILN_WITH_CUDA

using test::on_cpu;
using test::on_cuda;

using test::kFloating;
using test::expect_parity;
using test::ListFn;

TEST(CudaNormParity, FusedKernelsAreRegisteredForCuda) {
  // No device needed: the stubs' tables are filled at start-up. Without these the ops
  // would throw "no kernel" (batch norm) or fall back to the composite (softmax).
  EXPECT_TRUE(batch_norm_stats_stub.has(DeviceType::CUDA));
  EXPECT_TRUE(batch_norm_stub.has(DeviceType::CUDA));
  EXPECT_TRUE(batch_norm_backward_stub.has(DeviceType::CUDA));
  EXPECT_TRUE(softmax_backward_stub.has(DeviceType::CUDA));
  EXPECT_TRUE(log_softmax_backward_stub.has(DeviceType::CUDA));
}

// Which of x, weight, bias require grad.
struct GradMask {
  bool x, weight, bias;
};

// Inputs {x, weight, bias, running_mean, running_var, dy}; weight/bias may be undefined.
// Outputs {y, running_mean, running_var, dx, dweight, dbias} after sum(y * dy).backward(),
// the running statistics updated in place on copies; a gradient not asked for is
// undefined.
ListFn batch_norm_run(bool training, GradMask mask) {
  return [training, mask](const TensorList& in) {
    Tensor x = in[0].detach().requires_grad_(mask.x);
    Tensor w = in[1].defined() ? in[1].detach().requires_grad_(mask.weight) : Tensor();
    Tensor b = in[2].defined() ? in[2].detach().requires_grad_(mask.bias) : Tensor();
    Tensor rm = in[3].clone(), rv = in[4].clone();
    Tensor y = native_batch_norm(x, w, b, rm, rv, training, 0.1, 1e-5);
    Tensor dx, dw, db;
    if (y.requires_grad()) {
      (y * in[5]).sum().backward();
      dx = mask.x ? x.grad() : Tensor();
      dw = w.defined() && mask.weight ? w.grad() : Tensor();
      db = b.defined() && mask.bias ? b.grad() : Tensor();
    }
    return TensorList{y.detach(), rm, rv, dx, dw, db};
  };
}

// batch_norm_run on the CPU and the GPU, once each: {y, running_mean, running_var}
// compared with the forward tolerances, the gradients with the backward ones.
void expect_batch_norm_parity(const ListFn& run, const TensorList& inputs, double fwd_rtol, double fwd_atol,
                              double rtol, double atol, const std::string& what) {
  const test::Tolerance fwd{fwd_rtol, fwd_atol}, bwd{rtol, atol};
  expect_parity(run, inputs, {fwd, fwd, fwd, bwd, bwd, bwd}, what,
                {"y", "running_mean", "running_var", "dx", "dweight", "dbias"});
}

TEST(CudaNormParity, BatchNormMatchesCpuForwardStatisticsAndGradients) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(31);
  // 2-D (N, C) (S = 1), two values per channel, odd 3-D and 4-D shapes, 64x64 maps
  // (channels cut into several parts, Note [CUDA batch norm sums]), parts that end
  // inside a plane, and more channels than the 65535 blocks of a grid.
  const std::vector<Shape> shapes = {{7, 3},        {2, 5},        {4, 6, 33},     {5, 3, 7, 9},
                                     {4, 2, 64, 64}, {16, 3, 64, 64}, {3, 2, 10001}, {2, 70001}};
  const std::vector<GradMask> masks = {{true, true, true}, {true, false, false}, {false, true, true}};
  for (DType d : kFloating) {
    // Statistics and y: sums in double on both devices, in another order (float32 y is
    // computed in float and may be contracted into an fma: atol 1e-5). Gradients: dx has
    // the cancellation (dy - k) - (x - mean) b, as in the layer norm parity test.
    const double fwd_rtol = d == kFloat64 ? 1e-12 : 1e-5, fwd_atol = d == kFloat64 ? 1e-12 : 1e-5;
    const double rtol = d == kFloat64 ? 1e-10 : 1e-4, atol = d == kFloat64 ? 1e-10 : 1e-5;
    for (const Shape& shape : shapes) {
      const int64_t c = shape[1];
      Tensor x = (randn(shape, {}, &gen) * 3.0 + 1.0).to(d), dy = randn(shape, {}, &gen).to(d);
      Tensor w = randn({c}, {}, &gen).to(d), b = randn({c}, {}, &gen).to(d);
      Tensor rm = randn({c}, {}, &gen).to(d), rv = (rand({c}, {}, &gen) + 0.5).to(d);
      for (bool training : {true, false}) {
        for (bool affine : {true, false}) {
          for (const GradMask& mask : masks) {
            if (!affine && (mask.weight || mask.bias)) continue;  // no weight or bias to differentiate
            const std::string what = x.meta_str() + (training ? " training" : " eval") + (affine ? " affine" : "") +
                                     " grads " + std::to_string(mask.x) + std::to_string(mask.weight) +
                                     std::to_string(mask.bias);
            const TensorList in = {x, affine ? w : Tensor(), affine ? b : Tensor(), rm, rv, dy};
            expect_batch_norm_parity(batch_norm_run(training, mask), in, fwd_rtol, fwd_atol, rtol, atol, what);
          }
        }
      }
    }
  }
}

TEST(CudaNormParity, BatchNormEvalTakesOneValuePerChannel) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(32);
  // N * S = 1 per channel is legal in eval only (training needs more than one value).
  for (DType d : kFloating) {
    for (const Shape& shape : std::vector<Shape>{{1, 5}, {1, 3, 1, 1}}) {
      const int64_t c = shape[1];
      Tensor x = randn(shape, {}, &gen).to(d), dy = randn(shape, {}, &gen).to(d);
      const TensorList in = {x, randn({c}, {}, &gen).to(d), randn({c}, {}, &gen).to(d), randn({c}, {}, &gen).to(d),
                             (rand({c}, {}, &gen) + 0.5).to(d), dy};
      const double tol = d == kFloat64 ? 1e-12 : 1e-5;
      expect_batch_norm_parity(batch_norm_run(false, {true, true, true}), in, tol, tol, tol, tol,
                               x.meta_str());
    }
  }
}

TEST(CudaNormParity, BatchNormIsDeterministicOnTheDevice) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(33);
  // Several parts per channel: the fixed-order combine gives the same bits every run.
  Tensor x = on_cuda(randn({16, 3, 64, 64}, {}, &gen) * 2.0 + 5.0), dy = on_cuda(randn({16, 3, 64, 64}, {}, &gen));
  Tensor w = on_cuda(randn({3}, {}, &gen));
  auto run = [&]() {
    Tensor leaf = x.detach().requires_grad_(true), wl = w.detach().requires_grad_(true);
    Tensor y = native_batch_norm(leaf, wl, Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
    (y * dy).sum().backward();
    return TensorList{on_cpu(y.detach()), on_cpu(leaf.grad()), on_cpu(wl.grad())};
  };
  TensorList first = run(), second = run();
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(test::allclose(second[i], first[i], 0, 0)) << "output " << i;
}

TEST(CudaNormParity, SoftmaxBackwardsMatchCpuForShortLongAndStridedRows) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(34);
  // (shape, dim): short rows (a warp each), rows of 1000 (still a warp), long rows (a
  // block each), a middle dim (a thread per column), and dim 0 of a matrix.
  const std::vector<std::pair<Shape, int64_t>> cases = {{{64, 7}, 1},   {{5, 1000}, 1}, {{4, 5000}, 1},
                                                        {{6, 7, 5}, 1}, {{3, 1000, 4}, 1}, {{2, 5000, 3}, 1},
                                                        {{7, 9}, 0},    {{1, 1}, 1}};
  for (DType d : kFloating) {
    // dx's subtraction cancels where g is close to the row's sum term, leaving the few-ulp
    // differences of exp and of the double sums' rounding as an absolute error.
    const double rtol = d == kFloat64 ? 1e-12 : 1e-5, atol = d == kFloat64 ? 1e-12 : 1e-5;
    for (const auto& [shape, dim] : cases) {
      Tensor x = (randn(shape, {}, &gen) * 3.0).to(d), g = randn(shape, {}, &gen).to(d);
      const std::string what = x.meta_str() + " dim " + std::to_string(dim);
      for (bool log : {false, true}) {
        auto grad_of = [dim = dim, log](const TensorList& l) {
          Tensor leaf = l[0].detach().requires_grad_(true);
          Tensor y = log ? log_softmax(leaf, dim) : softmax(leaf, dim);
          (y * l[1]).sum().backward();
          return TensorList{leaf.grad()};
        };
        expect_parity(grad_of, {x, g}, rtol, atol, (log ? "log_softmax " : "softmax ") + what);
      }
    }
  }
}

TEST(CudaNormParity, SoftmaxBackwardsMatchCpuForATransposedGradient) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(35);
  // The gradient arrives transposed: the op makes it contiguous before the kernel.
  for (DType d : kFloating) {
    Tensor x = randn({37, 29}, {}, &gen).to(d), g = randn({29, 37}, {}, &gen).to(d);
    for (bool log : {false, true}) {
      auto grad_of = [log](const TensorList& l) {
        Tensor leaf = l[0].detach().requires_grad_(true);
        Tensor y = log ? log_softmax(leaf, 1) : softmax(leaf, 1);
        (y * l[1].t()).sum().backward();
        return TensorList{leaf.grad()};
      };
      expect_parity(grad_of, {x, g}, d == kFloat64 ? 1e-12 : 1e-5, d == kFloat64 ? 1e-12 : 1e-5,
                    std::string(log ? "log_softmax " : "softmax ") + dtype_name(d));
    }
  }
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
