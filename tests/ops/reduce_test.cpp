// Reductions: PyTorch reference values and gradients (cases_reduce.py), float64
// gradchecks, double backward, errors, empty and large inputs (threaded kernel paths).
#include <cmath>
#include <limits>

#include "kiln.h"
#include "ops/cpu/parallel.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/isa.h"

namespace kiln {
namespace {

using test::error_of;
using test::OpTable;
using test::one;
TensorList both(const ValuesIndices& vi) { return {vi.values, vi.indices}; }
constexpr double kInf = std::numeric_limits<double>::infinity();

const OpTable& reduce_ops() {
  static const OpTable table = {
      {"sum.all", [](const TensorList& x) { return one(sum(x[0])); }},
      {"sum.dim1", [](const TensorList& x) { return one(sum(x[0], {1})); }},
      {"sum.dims02_keepdim", [](const TensorList& x) { return one(sum(x[0], {0, 2}, true)); }},
      {"sum.negdim_keepdim", [](const TensorList& x) { return one(sum(x[0], {-1}, true)); }},
      {"sum.negdims", [](const TensorList& x) { return one(sum(x[0], {-3, -1})); }},
      {"sum.f64", [](const TensorList& x) { return one(sum(x[0], {0})); }},
      {"sum.scalar0d", [](const TensorList& x) { return one(sum(x[0])); }},
      {"sum.scalar0d_dim0", [](const TensorList& x) { return one(sum(x[0], {0})); }},
      {"sum.size1dims", [](const TensorList& x) { return one(sum(x[0], {0, 2})); }},
      {"sum.int64", [](const TensorList& x) { return one(sum(x[0], {1})); }},
      {"sum.bool", [](const TensorList& x) { return one(sum(x[0])); }},
      {"mean.all", [](const TensorList& x) { return one(mean(x[0])); }},
      {"mean.negdims", [](const TensorList& x) { return one(mean(x[0], {-1, 0})); }},
      {"mean.dim1_keepdim", [](const TensorList& x) { return one(mean(x[0], {1}, true)); }},
      {"mean.f64", [](const TensorList& x) { return one(mean(x[0], {1})); }},
      {"prod.all", [](const TensorList& x) { return one(prod(x[0])); }},
      {"prod.dim1", [](const TensorList& x) { return one(prod(x[0], {1})); }},
      {"prod.dims_keepdim", [](const TensorList& x) { return one(prod(x[0], {0, 2}, true)); }},
      {"prod.with_zeros", [](const TensorList& x) { return one(prod(x[0], {1})); }},
      {"prod.int64", [](const TensorList& x) { return one(prod(x[0], {0})); }},
      {"var.dim1", [](const TensorList& x) { return one(var(x[0], {1})); }},
      {"var.all_biased", [](const TensorList& x) { return one(var(x[0], {}, false)); }},
      {"var.dims_keepdim", [](const TensorList& x) { return one(var(x[0], {0, 2}, true, true)); }},
      {"std.dim0", [](const TensorList& x) { return one(kiln::std(x[0], {0})); }},
      {"std.all_biased_f64", [](const TensorList& x) { return one(kiln::std(x[0], {}, false)); }},
      {"std.negdim_keepdim", [](const TensorList& x) { return one(kiln::std(x[0], {-1}, true, true)); }},
      {"norm.p2_all", [](const TensorList& x) { return one(norm(x[0])); }},
      {"norm.p1_dim1", [](const TensorList& x) { return one(norm(x[0], 1.0, {1})); }},
      {"norm.inf_dim0", [](const TensorList& x) { return one(norm(x[0], kInf, {0})); }},
      {"norm.p3_negdim_keepdim", [](const TensorList& x) { return one(norm(x[0], 3.0, {-1}, true)); }},
      {"norm.p1_5_dims", [](const TensorList& x) { return one(norm(x[0], 1.5, {0, 2})); }},
      {"norm.p2_f64", [](const TensorList& x) { return one(norm(x[0], 2.0, {1})); }},
      {"logsumexp.dim1", [](const TensorList& x) { return one(logsumexp(x[0], {1})); }},
      {"logsumexp.dims_keepdim", [](const TensorList& x) { return one(logsumexp(x[0], {0, 2}, true)); }},
      {"logsumexp.all", [](const TensorList& x) { return one(logsumexp(x[0], {0, 1})); }},
      {"logsumexp.large", [](const TensorList& x) { return one(logsumexp(x[0], {-1})); }},
      {"amax.dim1", [](const TensorList& x) { return one(amax(x[0], {1})); }},
      {"amax.all", [](const TensorList& x) { return one(amax(x[0])); }},
      {"amin.dims_keepdim", [](const TensorList& x) { return one(amin(x[0], {0, 2}, true)); }},
      {"amin.negdim", [](const TensorList& x) { return one(amin(x[0], {-1})); }},
      {"amax.ties", [](const TensorList& x) { return one(amax(x[0], {1})); }},
      {"amax.int64", [](const TensorList& x) { return one(amax(x[0], {0})); }},
      {"max.dim1", [](const TensorList& x) { return both(max(x[0], 1)); }},
      {"max.negdim_keepdim", [](const TensorList& x) { return both(max(x[0], -2, true)); }},
      {"min.dim0", [](const TensorList& x) { return both(min(x[0], 0)); }},
      {"min.dim2_f64", [](const TensorList& x) { return both(min(x[0], 2)); }},
      {"max.ties_first_index", [](const TensorList& x) { return both(max(x[0], 1)); }},
      {"max.scalar0d", [](const TensorList& x) { return both(max(x[0], 0)); }},
      {"max.all", [](const TensorList& x) { return one(max(x[0])); }},
      {"min.all", [](const TensorList& x) { return one(min(x[0])); }},
      {"argmax.dim1", [](const TensorList& x) { return one(argmax(x[0], 1)); }},
      {"argmin.dim0_keepdim", [](const TensorList& x) { return one(argmin(x[0], 0, true)); }},
      {"argmax.flat", [](const TensorList& x) { return one(argmax(x[0])); }},
      {"argmin.flat", [](const TensorList& x) { return one(argmin(x[0])); }},
      {"argmax.ties", [](const TensorList& x) { return one(argmax(x[0], 1)); }},
      {"all", [](const TensorList& x) { return one(all(x[0])); }},
      {"any", [](const TensorList& x) { return one(any(x[0])); }},
  };
  return table;
}

KILN_REFERENCE_SUITE(ReduceRef, "reduce", reduce_ops());

Tensor leaf64(const Shape& shape, uint64_t seed, double shift = 0.0) {
  Generator gen(seed);
  Tensor x = randn(shape, kFloat64, &gen) + shift;
  return x.detach().requires_grad_();
}

// Double backward: gradcheck of x -> d<op(x), v>/dx, whose backward runs each reduction's
// backward formula through autograd again.
GradcheckResult gradgradcheck(const std::function<Tensor(const Tensor&)>& op, const Tensor& x) {
  Tensor v = randn(op(x).shape(), kFloat64);
  return gradcheck(
      [&](const TensorList& in) {
        EnableGradGuard enable;  // gradcheck evaluates finite differences under NoGradGuard
        Tensor y = op(in[0]);
        return grad({y}, {in[0]}, {v}, /*retain_graph=*/true, /*create_graph=*/true);
      },
      {x});
}

TEST(Reduce, DoubleBackwardMatchesFiniteDifferences) {
  Tensor x = leaf64({3, 4}, 1);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return mean(t * t, {1}); }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return var(t, {1}); }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return kiln::std(t, {0}); }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return norm(t, 2.0, {1}); }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return norm(t, 3.0, {1}); }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return logsumexp(t, {0}); }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return amax(t * t, {1}); }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return max(t * t, 0).values; }, x).ok);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return sum(t * t, {0, 1}); }, x).ok);
  Tensor positive = leaf64({2, 3}, 2, 3.0);
  EXPECT_TRUE(gradgradcheck([](const Tensor& t) { return prod(t, {1}); }, positive).ok);
}

TEST(Reduce, ProdGradientWithZerosIsTheProductOfTheOthers) {
  Tensor x = tensor<double>({2.0, 0.0, 3.0, 0.0, 0.0, 5.0}, {2, 3}).requires_grad_();
  prod(x, {1}).sum().backward();
  // Row 0 has one zero: it gets 2 * 3, the others 0. Row 1 has two zeros: all 0.
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.0, 6.0, 0.0, 0.0, 0.0, 0.0}));
}

TEST(Reduce, AmaxSplitsGradientAmongTiesAndMaxDimPicksFirstIndex) {
  Tensor x = tensor<double>({1.0, 4.0, 4.0, 4.0}).requires_grad_();
  amax(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.0, 1.0 / 3, 1.0 / 3, 1.0 / 3}));
  Tensor y = tensor<double>({1.0, 4.0, 4.0, 4.0}).requires_grad_();
  ValuesIndices m = max(y, 0);
  EXPECT_EQ(m.indices.item<int64_t>(), 1);
  m.values.backward();
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{0.0, 1.0, 0.0, 0.0}));
}

TEST(Reduce, BadDimNamesOpAndRange) {
  Tensor x = zeros({2, 3});
  EXPECT_EQ(error_of([&] { sum(x, {2}); }),
            "sum: dim 2 is out of range for a tensor with 2 dims (expected a dim in [-2, 1])");
  EXPECT_EQ(error_of([&] { max(x, -3); }),
            "max: dim -3 is out of range for a tensor with 2 dims (expected a dim in [-2, 1])");
  EXPECT_EQ(error_of([&] { argmin(x, 5); }),
            "argmin: dim 5 is out of range for a tensor with 2 dims (expected a dim in [-2, 1])");
}

TEST(Reduce, DuplicateDimsAreAnError) {
  Tensor x = zeros({2, 3});
  EXPECT_EQ(error_of([&] { sum(x, {1, -1}); }), "sum: dim 1 appears more than once in dims [1, -1]");
  EXPECT_EQ(error_of([&] { var(x, {0, 0}); }), "var: dim 0 appears more than once in dims [0, 0]");
}

TEST(Reduce, FloatingOnlyOpsRejectIntegersNamingTheOp) {
  Tensor i = arange(4.0);
  EXPECT_EQ(error_of([&] { mean(i); }),
            "mean: expected a floating input (float32, float64, float16 or bfloat16), got int64[4] on cpu");
  EXPECT_EQ(error_of([&] { var(i); }), "var: expected a floating input (float32 or float64), got int64[4] on cpu");
  EXPECT_EQ(error_of([&] { kiln::std(i); }),
            "std: expected a floating input (float32 or float64), got int64[4] on cpu");
  EXPECT_EQ(error_of([&] { norm(i); }), "norm: expected a floating input (float32 or float64), got int64[4] on cpu");
  EXPECT_EQ(error_of([&] { logsumexp(i, {0}); }),
            "logsumexp: expected a floating input (float32 or float64), got int64[4] on cpu");
  EXPECT_EQ(error_of([&] { amax(tensor<bool>({true, false})); }), "amax: expected float32, float64 or int64, got bool");
}

TEST(Reduce, NormRejectsNonPositiveP) {
  EXPECT_EQ(error_of([] { norm(ones({3}), 0.0); }), "norm: expected p > 0 (or inf), got p = 0");
  EXPECT_EQ(error_of([] { norm(ones({3}), -2.0); }), "norm: expected p > 0 (or inf), got p = -2");
}

TEST(Reduce, MaxOfNothingIsAnErrorNamingTheOp) {
  Tensor e = zeros({0, 3});
  EXPECT_EQ(error_of([&] { max(e); }),
            "max: cannot reduce over an empty dim (input float32[0, 3] on cpu, dims [0, 1]): the max of no "
            "elements is undefined");
  EXPECT_EQ(error_of([&] { min(e, 0); }),
            "min: cannot reduce over an empty dim (input float32[0, 3] on cpu, dims [0]): the min of no elements "
            "is undefined");
  EXPECT_EQ(error_of([&] { amax(e, {0}); }),
            "amax: cannot reduce over an empty dim (input float32[0, 3] on cpu, dims [0]): the amax of no "
            "elements is undefined");
  EXPECT_EQ(error_of([&] { argmax(e); }),
            "argmax: cannot reduce over an empty dim (input float32[0] on cpu, dims [0]): the argmax of no "
            "elements is undefined");
  // Reducing a non-empty dim of an empty tensor is fine: the result is empty.
  EXPECT_EQ(amax(e, {1}).shape(), (Shape{0}));
  EXPECT_EQ(max(e, 1).indices.shape(), (Shape{0}));
}

TEST(Reduce, EmptyDimsGiveTheIdentity) {
  Tensor e = zeros({0, 3});
  EXPECT_EQ(sum(e, {0}).to_vector<float>(), (std::vector<float>{0.f, 0.f, 0.f}));
  EXPECT_EQ(prod(e, {0}).to_vector<float>(), (std::vector<float>{1.f, 1.f, 1.f}));
  EXPECT_TRUE(std::isnan(mean(e).item<float>()));
  EXPECT_TRUE(std::isnan(var(e, {0}).to_vector<float>()[0]));
  EXPECT_EQ(logsumexp(e, {0}).to_vector<float>()[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(norm(e, 2.0, {0}).to_vector<float>()[1], 0.f);
  EXPECT_TRUE(all(e).item<bool>());
  EXPECT_FALSE(any(e).item<bool>());
  EXPECT_EQ(sum(zeros({2, 0}), {0}).shape(), (Shape{0}));
}

TEST(Reduce, IntegerSumAndProdStayInt64) {
  Tensor i = tensor<int64_t>({3, -4, 5, 1'000'000'000'000}, {2, 2});
  Tensor s = sum(i, {0});
  EXPECT_EQ(s.dtype(), kInt64);
  EXPECT_EQ(s.to_vector<int64_t>(), (std::vector<int64_t>{8, 999'999'999'996}));
  EXPECT_EQ(prod(i).item<int64_t>(), -60'000'000'000'000);
  Tensor b = sum(tensor<bool>({true, true, false}));
  EXPECT_EQ(b.dtype(), kInt64);
  EXPECT_EQ(b.item<int64_t>(), 2);
}

TEST(Reduce, KeepdimAndZeroDimShapes) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_EQ(sum(x, {1}, true).shape(), (Shape{2, 1, 4}));
  EXPECT_EQ(sum(x, {0, 2}).shape(), (Shape{3}));
  EXPECT_EQ(sum(x).shape(), (Shape{}));
  EXPECT_EQ(sum(x, {}, true).shape(), (Shape{1, 1, 1}));
  Tensor s = scalar_tensor(2.5);
  EXPECT_EQ(sum(s, {0}).shape(), (Shape{}));
  EXPECT_EQ(sum(s, {-1}, true).shape(), (Shape{}));
  EXPECT_EQ(argmax(s).item<int64_t>(), 0);
  EXPECT_EQ(max(s, 0).values.item<float>(), 2.5f);
}

TEST(Reduce, Float32SumAccumulatesInDouble) {
  // In a float32 running sum each +1 after 1e8 is lost (float spacing there is 8).
  std::vector<float> v(1001, 1.0f);
  v[0] = 1e8f;
  EXPECT_EQ(sum(tensor(v)).item<float>(), 100001000.0f);
}

TEST(Reduce, NanPropagatesThroughMaxAndArgmax) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = tensor<float>({1.f, nan, 3.f});
  EXPECT_TRUE(std::isnan(amax(x).item<float>()));
  EXPECT_TRUE(std::isnan(min(x).item<float>()));
  EXPECT_EQ(argmax(x).item<int64_t>(), 1);
  EXPECT_EQ(argmin(x).item<int64_t>(), 1);
  // A row of -inf has max -inf (not the lowest finite float).
  EXPECT_EQ(amax(full({3}, -kInf)).item<float>(), -std::numeric_limits<float>::infinity());
}

// Runs the threaded kernel paths with 4 threads whatever the machine has.
class ReduceThreaded : public ::testing::Test {
 protected:
  void SetUp() override { cpu::set_num_threads(4); }
  void TearDown() override { cpu::set_num_threads(0); }
};

TEST_F(ReduceThreaded, LongRowSplitAcrossThreadsKeepsFirstIndex) {
  // One row far past the grain size: it is cut into chunks whose partial results are
  // merged in order, so the first of two equal maxima must win across the chunks.
  const int64_t n = 400'000;
  std::vector<float> v(size_t(n), 0.f);
  v[250'000] = 7.f;
  v[390'000] = 7.f;
  Tensor x = tensor(v);
  EXPECT_EQ(argmax(x).item<int64_t>(), 250'000);
  v[3] = 7.f;
  EXPECT_EQ(argmax(tensor(v)).item<int64_t>(), 3);
  Tensor r = arange(0.0, double(n), 1.0, kFloat64);
  EXPECT_EQ(sum(r).item<double>(), double(n) * double(n - 1) / 2);
  EXPECT_NEAR(var(r).item<double>(), double(n) * double(n + 1) / 12, 1e-6 * double(n) * double(n));
}

TEST_F(ReduceThreaded, FewColumnsSplitTheReducedDimAndKeepFirstIndex) {
  // (1, 3000, 50): one block of columns, so the reduced dim is cut into chunks.
  Generator gen(9);
  Tensor x = randn({3000, 50}, kFloat64, &gen);
  auto xv = x.to_vector<double>();
  std::vector<double> expected(50, 0.0);
  for (size_t i = 0; i < xv.size(); ++i) expected[i % 50] += xv[i];
  auto got = sum(x, {0}).to_vector<double>();
  for (size_t c = 0; c < 50; ++c) ASSERT_NEAR(got[c], expected[c], 1e-9) << c;
  Tensor ties = zeros({3000, 50}, kFloat64);
  ties.select(0, 2900).fill_(1.0);
  ties.select(0, 1200).fill_(1.0);
  EXPECT_EQ(argmax(ties, 0).to_vector<int64_t>(), std::vector<int64_t>(50, 1200));
  EXPECT_TRUE(test::allclose(var(x, {0}), var(x.t().contiguous(), {1}), 1e-12, 1e-12));
}

TEST_F(ReduceThreaded, ThreadedLayoutsMatchAPlainLoop) {
  // (outer, reduced, inner) with inner > 1 and many tasks, and many short rows: both
  // split across threads. Compare with a float64 loop over the same values.
  Generator gen(7);
  Tensor x = randn({37, 301, 29}, kFloat64, &gen);
  auto xv = x.to_vector<double>();
  Tensor s1 = sum(x, {1});
  Tensor s2 = sum(x, {2});
  Tensor s02 = sum(x, {0, 2});
  auto v1 = s1.to_vector<double>(), v2 = s2.to_vector<double>(), v02 = s02.to_vector<double>();
  std::vector<double> e1(37 * 29, 0.0), e2(37 * 301, 0.0), e02(301, 0.0);
  for (int64_t a = 0; a < 37; ++a)
    for (int64_t b = 0; b < 301; ++b)
      for (int64_t c = 0; c < 29; ++c) {
        double val = xv[size_t((a * 301 + b) * 29 + c)];
        e1[size_t(a * 29 + c)] += val;
        e2[size_t(a * 301 + b)] += val;
        e02[size_t(b)] += val;
      }
  for (size_t i = 0; i < e1.size(); ++i) ASSERT_NEAR(v1[i], e1[i], 1e-9) << i;
  for (size_t i = 0; i < e2.size(); ++i) ASSERT_NEAR(v2[i], e2[i], 1e-9) << i;
  for (size_t i = 0; i < e02.size(); ++i) ASSERT_NEAR(v02[i], e02[i], 1e-9) << i;
  // The same reductions on a transposed (non-contiguous) view.
  Tensor xt = x.transpose(0, 2);  // (29, 301, 37)
  EXPECT_TRUE(test::allclose(sum(xt, {1}), s1.t(), 1e-12, 1e-9));
  EXPECT_TRUE(test::allclose(max(xt, 1).values, amax(x, {1}).t(), 0, 0));
}

// Float32 sums over a dim that is not the last (Note [Column sums]): on the SIMD paths
// each column is one running double sum in row order, so the result is exactly that sum
// rounded to float, on one thread or four; the generic path may merge chunks, so it gets
// a tolerance. Shapes: an LSTM bias gradient, several outer indices, ragged columns.
class ReduceIsa : public test::IsaTest {};

TEST_P(ReduceIsa, Float32ColumnSumsAreRunningDoubleSums) {
  Generator gen(13);
  for (int threads : {1, 4}) {
    cpu::set_num_threads(threads);
    for (const Shape& shape :
         {Shape{3840, 512}, Shape{37, 301, 29}, Shape{5, 1000, 33}, Shape{128, 10}, Shape{3, 1, 7}}) {
      Tensor x = randn(shape, kFloat32, &gen);
      const int64_t outer = shape.size() == 3 ? shape[0] : 1, rows = shape[shape.size() - 2], cols = shape.back();
      const std::vector<float> xv = x.to_vector<float>();
      std::vector<float> expected(size_t(outer * cols));
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < cols; ++c) {
          double acc = 0;
          for (int64_t r = 0; r < rows; ++r) acc += double(xv[size_t((o * rows + r) * cols + c)]);
          expected[size_t(o * cols + c)] = float(acc);
        }
      }
      const std::vector<float> got = sum(x, {int64_t(shape.size()) - 2}).to_vector<float>();
      ASSERT_EQ(got.size(), expected.size());
      const bool exact = GetParam() != cpu::CpuIsa::Generic;
      for (size_t i = 0; i < got.size(); ++i) {
        if (exact) {
          ASSERT_EQ(got[i], expected[i]) << shape << " output " << i << " threads " << threads;
        } else {
          ASSERT_NEAR(got[i], expected[i], 1e-5 * std::abs(expected[i]) + 1e-5) << shape << " output " << i;
        }
      }
    }
  }
  cpu::set_num_threads(0);
}

INSTANTIATE_TEST_SUITE_P(Isa, ReduceIsa,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

TEST(Reduce, TensorMethodsForwardToTheFreeFunctions) {
  Tensor x = tensor<float>({1.f, 5.f, -2.f, 4.f}, {2, 2});
  EXPECT_EQ(x.sum().item<float>(), 8.f);
  EXPECT_EQ(x.mean({1}).to_vector<float>(), (std::vector<float>{3.f, 1.f}));
  EXPECT_EQ(x.max().item<float>(), 5.f);
  EXPECT_EQ(x.min().item<float>(), -2.f);
  EXPECT_EQ(x.argmax(1).to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(x.argmax(0, true).shape(), (Shape{1, 2}));
}

TEST(Reduce, AllAndAnyWorkOnEveryDtype) {
  EXPECT_TRUE(all(isfinite(tensor<float>({1.f, 2.f}))).item<bool>());
  EXPECT_FALSE(all(isfinite(tensor<float>({1.f, std::numeric_limits<float>::infinity()}))).item<bool>());
  EXPECT_TRUE(any(tensor<int64_t>({0, 0, 3})).item<bool>());
  EXPECT_FALSE(all(tensor<int64_t>({1, 0})).item<bool>());
  EXPECT_EQ(all(tensor<bool>({true})).dtype(), kBool);
}

TEST(Reduce, ArgmaxIsNotDifferentiable) {
  Tensor x = tensor<float>({1.f, 3.f}).requires_grad_();
  Tensor i = argmax(x);
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_FALSE(i.requires_grad());
  EXPECT_FALSE(max(x, 0).indices.requires_grad());
}

}  // namespace
}  // namespace kiln
