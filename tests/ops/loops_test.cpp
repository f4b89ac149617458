// The CPU elementwise iterator (ops/cpu/loops.h) against a naive per-element index
// computation, on awkward layouts: permuted, sliced with steps, broadcast, size-1 and
// zero-size dims, and tensors large enough to be split across threads.
#include <atomic>
#include <utility>

#include "kiln.h"
#include "ops/cpu/loops.h"
#include "support/check.h"

namespace kiln {
namespace {

// The value at a multi-index of `t`, computed from its strides directly.
double at(const Tensor& t, const IntList& idx) {
  int64_t off = t.offset();
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
  return double(static_cast<const float*>(t.storage()->data())[off]);
}

// Small integers as floats, so that a * 10 + b is exact in float32 and double alike.
Tensor ints(const Shape& shape) { return randint(-50, 50, shape).to(kFloat32); }

// out = a * 10 + b by the iterator, checked element by element by index arithmetic.
void check_layout(const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "test");
  Tensor out = empty(shape);
  cpu::elementwise<float, float, float>(out, [](float x, float y) { return x * 10 + y; }, a, b);
  auto av = broadcast_strides(a.shape(), a.strides(), shape);
  auto bv = broadcast_strides(b.shape(), b.strides(), shape);
  Tensor ae = as_strided(a, shape, av, a.offset()), be = as_strided(b, shape, bv, b.offset());
  int64_t n = numel_of(shape);
  IntList idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i;
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    double expected = at(ae, idx) * 10 + at(be, idx);
    ASSERT_FLOAT_EQ(float(at(out, idx)), float(expected)) << "at flat index " << i << " of shape " << shape;
  }
}

TEST(ElementwiseLoop, ContiguousAndBroadcast) {
  check_layout(ints({3, 4}), ints({3, 4}));
  check_layout(ints({2, 1, 4}), ints({3, 1}));
  check_layout(ints({5}), ints(Shape{}));
  check_layout(ints({1, 1, 1}), ints({1}));
}

TEST(ElementwiseLoop, PermutedAndSteppedSlices) {
  check_layout(ints({4, 3, 5}).permute({2, 0, 1}), ints({5, 4, 3}));
  check_layout(ints({6, 8}).slice(1, 1, 8, 3), ints({6, 1}).expand({6, 3}));
  check_layout(ints({7, 9}).t().slice(0, 2, 9, 2), ints({7}));
}

TEST(ElementwiseLoop, ZeroSizeDoesNothing) {
  Tensor out = empty({0, 3});
  cpu::elementwise<float, float>(out, [](float x) { return x; }, zeros({0, 3}));
  EXPECT_EQ(out.numel(), 0);
}

TEST(ElementwiseLoop, LargeStridedTensorAcrossThreads) {
  // Far above the grain size, with a transposed operand: each thread starts mid-row.
  check_layout(ints({301, 257}), ints({257, 301}).t());
  check_layout(ints({3, 70001}).slice(1, 1, 70001, 2), ints({3, 1}));
}

// elementwise_runs offers each run to the run kernel first: here one that takes only the
// unit-stride runs of even length (writing x * 10 + y like f); the rest fall to f. The
// result must not depend on who wrote which run, and the kernel must see every run whose
// strides it accepts, across threads too.
TEST(ElementwiseLoop, RunKernelTakesTheRunsItAccepts) {
  for (auto [a, b] : {std::pair{ints({4, 6}), ints({4, 6})}, std::pair{ints({5, 7}), ints({7})},
                      std::pair{ints({3, 70001}), ints({3, 70001})}, std::pair{ints({9, 8}).t(), ints({8, 9})}}) {
    Shape shape = broadcast_shapes(a.shape(), b.shape(), "test");
    Tensor out = empty(shape), expected = empty(shape);
    auto f = [](float x, float y) { return x * 10 + y; };
    std::atomic<int64_t> taken{0};
    cpu::elementwise_runs<float, float, float>(
        out, f,
        [&](const std::array<char*, 3>& p, const std::array<int64_t, 3>& s, int64_t n) {
          if (s[0] != 4 || s[1] != 4 || s[2] != 4 || n % 2 != 0) return false;
          auto* o = reinterpret_cast<float*>(p[0]);
          auto* x = reinterpret_cast<const float*>(p[1]);
          auto* y = reinterpret_cast<const float*>(p[2]);
          for (int64_t i = 0; i < n; ++i) o[i] = x[i] * 10 + y[i];
          taken += n;
          return true;
        },
        a, b);
    cpu::elementwise<float, float, float>(expected, f, a, b);
    EXPECT_TRUE(test::allclose(out, expected, 0, 0)) << "shape " << shape;
    const bool unit = a.is_contiguous() && b.shape() == a.shape();
    if (unit && out.numel() % 2 == 0 && out.numel() < 1000) {
      EXPECT_EQ(taken.load(), out.numel()) << "shape " << shape;
    }
    if (!a.is_contiguous()) {
      EXPECT_EQ(taken.load(), 0) << "a transposed operand has no unit-stride runs";
    }
  }
}

}  // namespace
}  // namespace kiln
