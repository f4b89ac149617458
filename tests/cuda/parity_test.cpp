// DeviceParity: every CUDA kernel (cuda/*.cu) against the CPU kernel on the same random
// inputs: contiguous, non-contiguous, broadcast, odd sizes. Skips without a device.
// Tolerances (atol + rtol |cpu|): float32 elementwise rtol 1e-5 (CUDA's float math is
// within a few ulp of glibc's), reductions rtol 1e-5 (both accumulate in double, only the
// order differs), GEMM 1e-4 plus atol growing with k; float64 rtol 1e-12 throughout.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kiln.h"
#include "support/check.h"
#include "support/cuda.h"

#ifdef KILN_WITH_CUDA
#include "cuda/allocator.h"
#include "cuda/runtime.h"
#endif

namespace kiln {
namespace {

#ifdef KILN_WITH_CUDA

using test::on_cpu;
using test::on_cuda;

double rtol_for(DType d, double f32) { return d == kFloat64 ? 1e-12 : f32; }
double atol_for(DType d, double f32) { return d == kFloat64 ? 1e-12 : f32; }

// f on the CPU vs f on the GPU, for each listed input layout of x.
using UnaryFn = std::function<Tensor(const Tensor&)>;
void expect_parity(const UnaryFn& f, const Tensor& x, double rtol, double atol, const std::string& what) {
  SCOPED_TRACE(what + " on " + x.meta_str());
  Tensor want = f(x);
  Tensor got = on_cpu(f(on_cuda(x)));
  EXPECT_TRUE(test::allclose(got, want, rtol, atol));
}
void expect_parity_layouts(const UnaryFn& f, const Tensor& x, double rtol, double atol, const std::string& what) {
  expect_parity(f, x, rtol, atol, what);
  expect_parity([&](const Tensor& t) { return f(test::make_noncontiguous(t)); }, x, rtol, atol, what + " (strided)");
  if (x.dim() == 2) expect_parity([&](const Tensor& t) { return f(t.t()); }, x, rtol, atol, what + " (transposed)");
}

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
void expect_parity2(const BinaryFn& f, const Tensor& a, const Tensor& b, double rtol, double atol,
                    const std::string& what) {
  SCOPED_TRACE(what + " on " + a.meta_str() + " and " + b.meta_str());
  Tensor want = f(a, b);
  Tensor got = on_cpu(f(on_cuda(a), on_cuda(b)));
  EXPECT_TRUE(test::allclose(got, want, rtol, atol));
}

using test::kFloating;

TEST(CudaParity, UnaryFloatingOpsMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  std::vector<std::pair<std::string, UnaryFn>> any_sign = {
      {"neg", [](const Tensor& t) { return neg(t); }},
      {"exp", [](const Tensor& t) { return exp(t); }},
      {"abs", [](const Tensor& t) { return abs(t); }},
      {"sign", [](const Tensor& t) { return sign(t); }},
      {"sin", [](const Tensor& t) { return sin(t); }},
      {"cos", [](const Tensor& t) { return cos(t); }},
      {"erf", [](const Tensor& t) { return erf(t); }},
      {"square", [](const Tensor& t) { return pow(t, 2.0); }},
      {"clamp", [](const Tensor& t) { return clamp(t, -0.5, 0.7); }},
      {"relu", [](const Tensor& t) { return relu(t); }},
      {"leaky_relu", [](const Tensor& t) { return leaky_relu(t, 0.1); }},
      {"elu", [](const Tensor& t) { return elu(t, 1.3); }},
      {"gelu", [](const Tensor& t) { return gelu(t); }},
      {"gelu_tanh", [](const Tensor& t) { return gelu(t, "tanh"); }},
      {"silu", [](const Tensor& t) { return silu(t); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); }},
      {"tanh", [](const Tensor& t) { return tanh(t); }},
      {"softplus", [](const Tensor& t) { return softplus(t, 2.0, 3.0); }},
  };
  std::vector<std::pair<std::string, UnaryFn>> positive = {
      {"log", [](const Tensor& t) { return log(t); }},
      {"log1p", [](const Tensor& t) { return log1p(t); }},
      {"sqrt", [](const Tensor& t) { return sqrt(t); }},
      {"rsqrt", [](const Tensor& t) { return rsqrt(t); }},
      {"pow3.5", [](const Tensor& t) { return pow(t, 3.5); }},
  };
  Generator gen(11);
  for (DType d : kFloating) {
    Tensor x = (randn({13, 37}, {}, &gen) * 3.0).to(d);  // 481 elements: packs of 4 and a tail
    Tensor p = (rand({13, 37}, {}, &gen) * 4.0 + 0.05).to(d);
    for (const auto& [name, f] : any_sign) expect_parity_layouts(f, x, rtol_for(d, 1e-5), atol_for(d, 1e-6), name);
    for (const auto& [name, f] : positive) expect_parity_layouts(f, p, rtol_for(d, 1e-5), atol_for(d, 1e-6), name);
  }
}

TEST(CudaParity, UnaryIntegerAndPredicateOpsMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(12);
  Tensor i = randint(-5, 6, {9, 11}, kInt64, &gen);
  for (auto f : std::vector<UnaryFn>{[](const Tensor& t) { return neg(t); }, [](const Tensor& t) { return abs(t); },
                                     [](const Tensor& t) { return sign(t); }, [](const Tensor& t) { return relu(t); }})
    expect_parity_layouts(f, i, 0, 0, "int64");
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor special = tensor<float>({0.f, -1.5f, inf, -inf, nan, 2.f, 0.f, nan, 3.f});
  for (auto f : std::vector<UnaryFn>{[](const Tensor& t) { return isfinite(t); },
                                     [](const Tensor& t) { return isnan(t); },
                                     [](const Tensor& t) { return logical_not(t); }}) {
    expect_parity(f, special, 0, 0, "predicate float32");
    expect_parity(f, special.to(kFloat64), 0, 0, "predicate float64");
    expect_parity(f, i, 0, 0, "predicate int64");
    expect_parity(f, gt(i, 0.0), 0, 0, "predicate bool");
  }
  // NaN passes through clamp and relu-like ops unchanged on both devices.
  expect_parity([](const Tensor& t) { return clamp(t, -1.0, 1.0); }, special, 0, 0, "clamp with nan and inf");
}

TEST(CudaParity, BinaryOpsMatchCpuWithBroadcasting) {
  KILN_REQUIRE_CUDA_DEVICE();
  std::vector<std::pair<std::string, BinaryFn>> arith = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"add_alpha", [](const Tensor& a, const Tensor& b) { return add(a, b, 2.5); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(abs(a) + 0.1, b); }},
  };
  std::vector<std::pair<std::string, BinaryFn>> compare = {
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }},
      {"logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); }},
      {"logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); }},
      {"where", [](const Tensor& a, const Tensor& b) { return where(gt(a, 0.0), a, b); }},
  };
  Generator gen(13);
  for (DType d : kFloating) {
    // Same shape (packs of 4 and a tail), broadcast against a column, strided, a scalar.
    std::vector<std::pair<Tensor, Tensor>> pairs = {
        {randn({5, 7, 11}, {}, &gen).to(d), randn({5, 7, 11}, {}, &gen).to(d)},
        {randn({5, 1, 11}, {}, &gen).to(d), randn({3, 1}, {}, &gen).to(d)},
        {test::make_noncontiguous(randn({6, 9}, {}, &gen).to(d)), randn({9, 6}, {}, &gen).to(d).t()},
        {randn({4, 5}, {}, &gen).to(d), randn({}, {}, &gen).to(d)},
    };
    // Small integers in the same layouts make ties, so eq/le/ge see equal elements too.
    auto small_ints_like = [&](const Tensor& t) {
      Tensor r = randint(-2, 3, t.shape(), kInt64, &gen).to(d);
      return t.is_contiguous() ? r : test::make_noncontiguous(r);
    };
    for (auto& [a, b] : pairs) {
      Tensor ra = small_ints_like(a), rb = small_ints_like(b);
      for (const auto& [name, f] : arith) expect_parity2(f, a, b, rtol_for(d, 1e-5), atol_for(d, 1e-6), name);
      for (const auto& [name, f] : compare) expect_parity2(f, ra, rb, 0, 0, name);
    }
  }
  // int64 and bool operands.
  Tensor ia = randint(-4, 5, {6, 10}, kInt64, &gen), ib = randint(-4, 5, {10}, kInt64, &gen);
  for (const auto& [name, f] : compare) expect_parity2(f, ia, ib, 0, 0, name + " int64");
  for (const char* name : {"add", "add_alpha", "sub", "mul", "maximum", "minimum"})
    for (const auto& [n, f] : arith)
      if (n == name) expect_parity2(f, ia, ib, 0, 0, n + " int64");
  expect_parity2([](const Tensor& a, const Tensor& b) { return logical_and(a, b); }, gt(ia, 0.0), lt(ib, 2.0), 0, 0,
                 "logical_and bool");
  // NaN propagates through maximum/minimum on both devices.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor with_nan = tensor<float>({1.f, nan, 3.f, nan}), other = tensor<float>({nan, 2.f, 1.f, nan});
  expect_parity2([](const Tensor& a, const Tensor& b) { return maximum(a, b); }, with_nan, other, 0, 0, "maximum nan");
  expect_parity2([](const Tensor& a, const Tensor& b) { return minimum(a, b); }, with_nan, other, 0, 0, "minimum nan");
}

TEST(CudaParity, ElementwiseHandlesMisalignedAndLargeTensors) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(14);
  Tensor big = randn({(1 << 20) + 3}, {}, &gen);
  expect_parity([](const Tensor& t) { return t * 2.0 + 1.0; }, big, 1e-6, 1e-6, "large");
  // A contiguous slice starting one element in: not aligned for packs of 4.
  Tensor x = randn({1027}, {}, &gen);
  expect_parity([](const Tensor& t) { return exp(t.slice(0, 1, 1027)); }, x, 1e-5, 1e-6, "misaligned");
  Tensor a = randn({1027}, {}, &gen);
  expect_parity2([](const Tensor& p, const Tensor& q) { return p.slice(0, 1, 1027) + q.slice(0, 0, 1026); }, a, x,
                 1e-6, 1e-6, "misaligned pair");
}

TEST(CudaParity, ReductionsMatchCpuForEveryLaunchShape) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(15);
  // (shape, dim): long rows (a block each), columns (a thread each), few long strided
  // rows (a block each), many short rows (a thread each), everything at once.
  std::vector<std::pair<Shape, IntList>> cases = {
      {{37, 301}, {1}}, {{37, 301}, {0}}, {{3, 5000, 2}, {1}}, {{1000, 10}, {1}}, {{100003}, {}}, {{4, 6, 5}, {0, 2}}};
  for (DType d : kFloating) {
    const double rt = rtol_for(d, 1e-5), at = atol_for(d, 1e-6);
    for (const auto& [shape, dims] : cases) {
      Tensor x = randn(shape, {}, &gen).to(d);
      Tensor near_one = (rand(shape, {}, &gen) * 0.02 + 0.99).to(d);  // products stay finite
      Tensor ties = (randint(0, 4, shape, kInt64, &gen)).to(d);      // max/min see equal values
      expect_parity([&](const Tensor& t) { return sum(t, dims); }, x, rt, at, "sum");
      expect_parity([&](const Tensor& t) { return mean(t, dims); }, x, rt, at, "mean");
      expect_parity([&](const Tensor& t) { return prod(t, dims); }, near_one, rt, at, "prod");
      expect_parity([&](const Tensor& t) { return var(t, dims); }, x, rt, at, "var");
      expect_parity([&](const Tensor& t) { return var(t, dims, false); }, x, rt, at, "var biased");
      for (double p : {1.0, 2.0, 3.0, std::numeric_limits<double>::infinity()})
        expect_parity([&](const Tensor& t) { return norm(t, p, dims); }, x, rt, at, "norm p=" + std::to_string(p));
      expect_parity([&](const Tensor& t) { return amax(t, dims); }, ties, 0, 0, "amax");
      expect_parity([&](const Tensor& t) { return amin(t, dims); }, ties, 0, 0, "amin");
      expect_parity([&](const Tensor& t) { return all(t); }, ties, 0, 0, "all");
      expect_parity([&](const Tensor& t) { return any(t); }, ties, 0, 0, "any");
      if (dims.size() == 1) {
        int64_t dim = dims[0];
        expect_parity([&](const Tensor& t) { return max(t, dim).values; }, ties, 0, 0, "max values");
        expect_parity([&](const Tensor& t) { return max(t, dim).indices; }, ties, 0, 0, "max indices (first of ties)");
        expect_parity([&](const Tensor& t) { return min(t, dim).indices; }, ties, 0, 0, "min indices (first of ties)");
      }
    }
  }
  Tensor ints = randint(-100, 100, {50, 70}, kInt64, &gen);
  expect_parity([](const Tensor& t) { return sum(t, {1}); }, ints, 0, 0, "sum int64");
  expect_parity([](const Tensor& t) { return amax(t, {0}); }, ints, 0, 0, "amax int64");
  // NaN propagates, and the first NaN is the arg-extremum.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor with_nan = tensor<float>({1.f, nan, 5.f, nan, 2.f, 9.f, 3.f, 0.f}, {2, 4});
  expect_parity([](const Tensor& t) { return amax(t, {1}); }, with_nan, 0, 0, "amax nan");
  expect_parity([](const Tensor& t) { return max(t, 1).indices; }, with_nan, 0, 0, "max index nan");
  expect_parity([](const Tensor& t) { return norm(t, std::numeric_limits<double>::infinity(), {1}); }, with_nan, 0, 0,
                "norm inf nan");
  // Empty reduced dims: sum 0, prod 1, var NaN.
  Tensor empty_rows = zeros({3, 0});
  expect_parity([](const Tensor& t) { return sum(t, {1}); }, empty_rows, 0, 0, "sum empty");
  expect_parity([](const Tensor& t) { return prod(t, {1}); }, empty_rows, 0, 0, "prod empty");
  expect_parity([](const Tensor& t) { return var(t, {1}); }, empty_rows, 0, 0, "var empty");
}

TEST(CudaParity, SoftmaxMatchesCpuForShortLongAndStridedRows) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(16);
  std::vector<std::pair<Shape, int64_t>> cases = {{{64, 10}, 1}, {{5, 1000}, 1}, {{4, 3001}, 1}, {{6, 50, 7}, 1},
                                                  {{2, 3, 4}, 0}, {{1, 1}, 0}};
  for (DType d : kFloating) {
    for (const auto& [shape, dim] : cases) {
      Tensor x = (randn(shape, {}, &gen) * 4.0).to(d);
      expect_parity([&](const Tensor& t) { return softmax(t, dim); }, x, rtol_for(d, 1e-5), atol_for(d, 1e-7),
                    "softmax");
      expect_parity([&](const Tensor& t) { return log_softmax(t, dim); }, x, rtol_for(d, 1e-5), atol_for(d, 1e-6),
                    "log_softmax");
    }
  }
  // -inf entries get probability 0; a row of only -inf is NaN; +inf or NaN makes the row NaN.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor special = tensor<float>({-inf, 1.f, 2.f, -inf, -inf, -inf, -inf, -inf, 0.f, inf, 1.f, 2.f, 3.f, nan, 1.f, 0.f},
                                 {4, 4});
  expect_parity([](const Tensor& t) { return softmax(t, 1); }, special, 1e-6, 1e-7, "softmax special");
  expect_parity([](const Tensor& t) { return log_softmax(t, 1); }, special, 1e-6, 1e-6, "log_softmax special");
  expect_parity([](const Tensor& t) { return softmax(t, 0); }, special, 1e-6, 1e-7, "softmax special columns");
}

TEST(CudaParity, MatrixProductsMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(17);
  for (DType d : kFloating) {
    const double rt = rtol_for(d, 1e-4), at = atol_for(d, 1e-4);
    Tensor a = randn({17, 31}, {}, &gen).to(d), b = randn({31, 23}, {}, &gen).to(d);
    Tensor at_ = randn({31, 17}, {}, &gen).to(d), bt = randn({23, 31}, {}, &gen).to(d);
    expect_parity2([](const Tensor& x, const Tensor& y) { return mm(x, y); }, a, b, rt, at, "mm");
    expect_parity2([](const Tensor& x, const Tensor& y) { return mm(x.t(), y); }, at_, b, rt, at, "mm a^T");
    expect_parity2([](const Tensor& x, const Tensor& y) { return mm(x, y.t()); }, a, bt, rt, at, "mm b^T");
    expect_parity2([](const Tensor& x, const Tensor& y) { return mm(x.t(), y.t()); }, at_, bt, rt, at, "mm a^T b^T");
    Tensor ba = randn({3, 5, 9}, {}, &gen).to(d), bb = randn({3, 9, 4}, {}, &gen).to(d);
    expect_parity2([](const Tensor& x, const Tensor& y) { return bmm(x, y); }, ba, bb, rt, at, "bmm");
    expect_parity2([](const Tensor& x, const Tensor& y) { return bmm(x, y.transpose(1, 2)); }, ba,
                   randn({3, 4, 9}, {}, &gen).to(d), rt, at, "bmm b^T");
    expect_parity2([](const Tensor& x, const Tensor& y) { return matmul(x, y); }, ba, randn({9, 6}, {}, &gen).to(d), rt,
                   at, "matmul broadcast (batch stride 0)");
    expect_parity2([](const Tensor& x, const Tensor& y) { return mv(x, y); }, a, randn({31}, {}, &gen).to(d), rt, at,
                   "mv");
    expect_parity2([](const Tensor& x, const Tensor& y) { return outer(x, y); }, randn({7}, {}, &gen).to(d),
                   randn({5}, {}, &gen).to(d), rt, at, "outer (k = 1)");
    Tensor bias = randn({23}, {}, &gen).to(d);
    expect_parity2([&](const Tensor& x, const Tensor& y) { return addmm(bias.to(x.device()), x, y, 0.5, 2.0); }, a, b,
                   rt, at, "addmm");
    expect_parity2([](const Tensor& x, const Tensor& y) { return mm(x, y); }, zeros({4, 0}).to(d), zeros({0, 5}).to(d),
                   0, 0, "mm k = 0");
  }
  Tensor big_a = randn({300, 257}, {}, &gen), big_b = randn({257, 129}, {}, &gen);
  expect_parity2([](const Tensor& x, const Tensor& y) { return mm(x, y); }, big_a, big_b, 1e-4, 1e-3, "mm 300x257x129");
}

TEST(CudaParity, BackwardRunsOnTheDevice) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(18);
  Tensor x = randn({8, 5}, {}, &gen), w = randn({5, 3}, {}, &gen);
  auto grads = [](const Tensor& x0, const Tensor& w0) {
    Tensor xr = x0.detach().requires_grad_(true), wr = w0.detach().requires_grad_(true);
    Tensor loss = log_softmax(relu(mm(xr, wr)) * 2.0, 1).sum();
    loss.backward();
    return std::vector<Tensor>{xr.grad().to(Device::cpu()), wr.grad().to(Device::cpu())};
  };
  auto want = grads(x, w);
  auto got = grads(on_cuda(x), on_cuda(w));
  EXPECT_TRUE(test::allclose(got[0], want[0], 1e-5, 1e-5));
  EXPECT_TRUE(test::allclose(got[1], want[1], 1e-5, 1e-5));
}

TEST(CudaParity, CachingAllocatorReusesFreedBlocks) {
  KILN_REQUIRE_CUDA_DEVICE();
  auto before = cuda::memory_stats(0);
  { Tensor t = zeros({1000, 1000}, TensorOptions(Device::cuda())); }
  auto mid = cuda::memory_stats(0);
  { Tensor t = zeros({1000, 1000}, TensorOptions(Device::cuda())); }
  auto after = cuda::memory_stats(0);
  EXPECT_EQ(after.allocated, before.allocated);
  EXPECT_GE(mid.reserved, before.reserved);
  EXPECT_EQ(after.num_mallocs, mid.num_mallocs);  // the second tensor took the first one's block
  EXPECT_GT(after.num_cache_hits, mid.num_cache_hits);
  cuda::empty_cache();
  EXPECT_EQ(cuda::memory_stats(0).reserved, cuda::memory_stats(0).allocated);
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
