// The SIMD elementwise kernels (ops/cpu/elementwise_simd.h) against the scalar loops they
// replace, on every ISA level the CPU has: awkward lengths and misaligned starts, streamed
// and cached stores, special values, the ulp bounds of Note [SIMD elementwise kernels],
// and the wiring through the public ops (broadcast scalars, bias rows, in place, strided).
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kiln.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/elementwise_simd.h"
#include "support/check.h"
#include "support/isa.h"

namespace kiln {
namespace {

using cpu::SimdBinaryOp;
using cpu::SimdUnaryOp;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

const int64_t kLengths[] = {0, 1, 15, 16, 17, 31, 33, 1000003};

// Floats as integers in the order of their values (-0 and +0 one apart), so that the
// difference of two is their distance in ulps.
int64_t ordered(float v) {
  const int32_t i = std::bit_cast<int32_t>(v);
  return i < 0 ? int64_t(INT32_MIN) - int64_t(i) : int64_t(i);
}
int64_t ulp_distance(float a, float b) {
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

// The scalar definitions the kernels are held to (those of ops/cpu/unary.cpp).
float scalar_unary(SimdUnaryOp op, float v) {
  switch (op) {
    case SimdUnaryOp::Relu: return v > 0 ? v : 0.0f;
    case SimdUnaryOp::Neg: return -v;
    case SimdUnaryOp::Exp: return std::exp(v);
    case SimdUnaryOp::Sigmoid: {
      if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
      const float e = std::exp(v);
      return e / (1.0f + e);
    }
    case SimdUnaryOp::Tanh: return float(std::tanh(double(v)));
  }
  return v;
}
float scalar_binary(SimdBinaryOp op, float a, float b) {
  switch (op) {
    case SimdBinaryOp::Add: return a + b;
    case SimdBinaryOp::Sub: return a - b;
    case SimdBinaryOp::Mul: return a * b;
    case SimdBinaryOp::Div: return a / b;
  }
  return a;
}

// The documented bound of each op, in ulps from the scalar result.
int64_t max_ulps(SimdUnaryOp op) {
  switch (op) {
    case SimdUnaryOp::Exp:
    case SimdUnaryOp::Tanh: return 2;
    case SimdUnaryOp::Sigmoid: return 3;
    default: return 0;
  }
}

const char* name(SimdUnaryOp op) {
  switch (op) {
    case SimdUnaryOp::Relu: return "relu";
    case SimdUnaryOp::Neg: return "neg";
    case SimdUnaryOp::Exp: return "exp";
    case SimdUnaryOp::Sigmoid: return "sigmoid";
    case SimdUnaryOp::Tanh: return "tanh";
  }
  return "?";
}

// Whether `actual` is within `ulps` of `expected`: NaN only for NaN, and infinities,
// zeros (with their sign) and exact results such as tanh's +-1 reproduced exactly when
// the bound is 0 or the expected value is one of them.
::testing::AssertionResult close_in_ulps(float actual, float expected, int64_t ulps) {
  if (std::isnan(expected) || std::isnan(actual)) {
    if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << actual << ", expected " << expected;
  }
  const bool exact = ulps == 0 || std::isinf(expected) || expected == 0 || std::fabs(expected) == 1;
  const int64_t bound = exact ? 0 : ulps;
  if (ulp_distance(actual, expected) <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << actual << ", expected " << expected << " ("
                                       << ulp_distance(actual, expected) << " ulps apart, at most " << bound << ")";
}

std::vector<float> random_floats(int64_t n, double scale, uint64_t seed) {
  Generator gen(seed);
  Tensor t = randn({n}, {}, &gen) * scale;
  const float* p = t.data_ptr<float>();
  return std::vector<float>(p, p + n);
}

// The ISA levels with SIMD kernels this CPU has.
std::vector<const cpu::SimdElementwise*> kernel_tables() {
  std::vector<const cpu::SimdElementwise*> tables;
  if (int(cpu::detected_isa()) >= int(cpu::CpuIsa::Avx2)) tables.push_back(&cpu::simd_elementwise_avx2());
  if (int(cpu::detected_isa()) >= int(cpu::CpuIsa::Avx512)) tables.push_back(&cpu::simd_elementwise_avx512());
  return tables;
}

void skip_without_simd() {
  if (cpu::detected_isa() == cpu::CpuIsa::Generic) GTEST_SKIP() << "this CPU has no AVX2";
}

const SimdUnaryOp kUnaryOps[] = {SimdUnaryOp::Relu, SimdUnaryOp::Neg, SimdUnaryOp::Exp, SimdUnaryOp::Sigmoid,
                                 SimdUnaryOp::Tanh};
const SimdBinaryOp kBinaryOps[] = {SimdBinaryOp::Add, SimdBinaryOp::Sub, SimdBinaryOp::Mul, SimdBinaryOp::Div};

// Every length, start offsets 0..3 (out and x misaligned differently), cached and
// streamed stores; the elements around the written range stay untouched.
TEST(SimdElementwise, UnaryKernelsMatchScalarOnAwkwardLengthsAndOffsets) {
  skip_without_simd();
  const std::vector<float> x = random_floats(1000003 + 8, 4.0, 11);
  for (const auto* k : kernel_tables())
    for (SimdUnaryOp op : kUnaryOps)
      for (int64_t n : kLengths)
        for (int off : {0, 1, 3})
          for (bool stream : {false, true}) {
            if (n > 1000 && off != 1) continue;  // the long run once per mode, misaligned
            SCOPED_TRACE(::testing::Message() << k->isa << " " << name(op) << " n=" << n << " offset=" << off
                                              << " stream=" << stream);
            std::vector<float> out(size_t(n) + 8, 123.0f);
            k->unary(op, out.data() + off + 1, x.data() + off, n, stream);
            EXPECT_EQ(out[size_t(off)], 123.0f);
            EXPECT_EQ(out[size_t(off + 1 + n)], 123.0f);
            int failures = 0;
            for (int64_t i = 0; i < n && failures < 5; ++i) {
              const float xi = x[size_t(off + i)];
              auto r = close_in_ulps(out[size_t(off + 1 + i)], scalar_unary(op, xi), max_ulps(op));
              if (!r) {
                ADD_FAILURE() << "at " << i << " x=" << xi << ": " << r.message();
                ++failures;
              }
            }
          }
}

TEST(SimdElementwise, BinaryKernelsMatchScalarBitForBit) {
  skip_without_simd();
  const std::vector<float> a = random_floats(1000003 + 8, 3.0, 12), b = random_floats(1000003 + 8, 3.0, 13);
  for (const auto* k : kernel_tables())
    for (SimdBinaryOp op : kBinaryOps)
      for (int64_t n : kLengths)
        for (int mode = 0; mode < 3; ++mode)  // both tensors, a scalar, b scalar
          for (bool stream : {false, true}) {
            const bool a_scalar = mode == 1, b_scalar = mode == 2;
            SCOPED_TRACE(::testing::Message() << k->isa << " op " << int(op) << " n=" << n << " mode=" << mode
                                              << " stream=" << stream);
            std::vector<float> out(size_t(n) + 8, 123.0f);
            k->binary(op, out.data() + 1, a.data() + 2, a_scalar, b.data() + 3, b_scalar, n, stream);
            EXPECT_EQ(out[0], 123.0f);
            EXPECT_EQ(out[size_t(n + 1)], 123.0f);
            int failures = 0;
            for (int64_t i = 0; i < n && failures < 5; ++i) {
              const float ai = a[size_t(2 + (a_scalar ? 0 : i))], bi = b[size_t(3 + (b_scalar ? 0 : i))];
              const float expected = scalar_binary(op, ai, bi);
              if (std::bit_cast<uint32_t>(out[size_t(1 + i)]) != std::bit_cast<uint32_t>(expected)) {
                ADD_FAILURE() << "at " << i << ": " << ai << ", " << bi << " gave " << out[size_t(1 + i)]
                              << ", expected " << expected;
                ++failures;
              }
            }
          }
}

// IEEE special cases of the binary ops are the hardware's: the same bits as scalar.
TEST(SimdElementwise, BinaryKernelsKeepSpecialValues) {
  skip_without_simd();
  const std::vector<float> v = {kNaN, kInf, -kInf, 0.0f, -0.0f, 1e-45f, -3e38f, 3e38f, 1.0f, -2.5f};
  std::vector<float> a, b;
  for (float x : v)
    for (float y : v) a.push_back(x), b.push_back(y);
  std::vector<float> out(a.size());
  for (const auto* k : kernel_tables())
    for (SimdBinaryOp op : kBinaryOps) {
      k->binary(op, out.data(), a.data(), false, b.data(), false, int64_t(a.size()), false);
      for (size_t i = 0; i < a.size(); ++i) {
        const float expected = scalar_binary(op, a[i], b[i]);
        EXPECT_TRUE(std::isnan(expected) ? std::isnan(out[i])
                                         : std::bit_cast<uint32_t>(out[i]) == std::bit_cast<uint32_t>(expected))
            << k->isa << " op " << int(op) << ": " << a[i] << ", " << b[i] << " gave " << out[i] << ", expected "
            << expected;
      }
    }
}

// NaN, infinities, signed zeros, subnormals, the overflow and underflow edges of exp
// and the switch-over points of tanh: NaN for NaN, exact infinities, zeros and +-1.
TEST(SimdElementwise, UnaryKernelsFollowScalarOnSpecialValues) {
  skip_without_simd();
  std::vector<float> x = {kNaN, -kNaN, kInf, -kInf, 0.0f, -0.0f, 1e-45f, -1e-45f, 1e-38f, -1e-38f,
                          1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f, 0.625f, -0.625f, 0.62499994f,
                          -0.62500006f, 1.0f, 9.0f, -9.0f, 10.0f, 20.0f, -20.0f, 44.5f, -44.5f, 87.0f,
                          88.0f, 88.72283f, 88.722839f, 88.7229f, 89.0f, 89.5f, 100.0f, 1e30f,
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(), -80.0f,
                          -87.33654f, -87.4f, -88.0f, -100.0f, -103.0f, -103.97f, -103.972084f, -104.0f,
                          -105.0f, -150.0f, -1e30f};
  std::vector<float> out(x.size());
  for (const auto* k : kernel_tables())
    for (SimdUnaryOp op : kUnaryOps) {
      k->unary(op, out.data(), x.data(), int64_t(x.size()), false);
      for (size_t i = 0; i < x.size(); ++i)
        EXPECT_TRUE(close_in_ulps(out[i], scalar_unary(op, x[i]), max_ulps(op)))
            << k->isa << " " << name(op) << "(" << x[i] << ")";
    }
}

// The ulp bounds over the whole float line: every 1021st bit pattern (both signs, all
// exponents) and a dense grid over the range where the results are not saturated.
TEST(SimdElementwise, ExpSigmoidTanhWithinTheirUlpBounds) {
  skip_without_simd();
  std::vector<float> x;
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 1021) x.push_back(std::bit_cast<float>(uint32_t(bits)));
  for (int i = -1000000; i <= 1000000; ++i) x.push_back(float(i) * 1.1e-4f);
  std::vector<float> out(x.size());
  for (const auto* k : kernel_tables())
    for (SimdUnaryOp op : {SimdUnaryOp::Exp, SimdUnaryOp::Sigmoid, SimdUnaryOp::Tanh}) {
      k->unary(op, out.data(), x.data(), int64_t(x.size()), false);
      int64_t worst = 0;
      float worst_x = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const float expected = scalar_unary(op, x[i]);
        if (std::isnan(expected)) {
          EXPECT_TRUE(std::isnan(out[i])) << k->isa << " " << name(op) << "(" << x[i] << ")";
          continue;
        }
        const int64_t d = ulp_distance(out[i], expected);
        if (d > worst) worst = d, worst_x = x[i];
      }
      EXPECT_LE(worst, max_ulps(op)) << k->isa << " " << name(op) << " at x = " << worst_x;
    }
}

// The public ops with each ISA level forced, against the Generic level (the scalar loops).
class SimdElementwiseIsa : public test::IsaTest {
 protected:
  // f() under the ISA of the test and under Generic.
  template <typename F>
  std::pair<Tensor, Tensor> both(F f) {
    cpu::set_active_isa(GetParam());
    Tensor simd = f().contiguous();
    cpu::set_active_isa(cpu::CpuIsa::Generic);
    Tensor scalar = f().contiguous();
    cpu::set_active_isa(GetParam());
    return {simd, scalar};
  }
};

void expect_within_ulps(const Tensor& actual, const Tensor& expected, int64_t ulps) {
  ASSERT_EQ(actual.shape(), expected.shape());
  ASSERT_EQ(actual.dtype(), kFloat32);
  const float* a = actual.data_ptr<float>();
  const float* e = expected.data_ptr<float>();
  int failures = 0;
  for (int64_t i = 0; i < actual.numel() && failures < 5; ++i) {
    auto r = close_in_ulps(a[i], e[i], ulps);
    if (!r) {
      ADD_FAILURE() << "at flat index " << i << ": " << r.message();
      ++failures;
    }
  }
}

// Contiguous inputs of every length, and views starting one element into their buffer.
TEST_P(SimdElementwiseIsa, UnaryOpsMatchScalarLoops) {
  struct Case {
    Tensor (*op)(const Tensor&);
    SimdUnaryOp kind;
  };
  const Case cases[] = {{relu, SimdUnaryOp::Relu},
                        {neg, SimdUnaryOp::Neg},
                        {exp, SimdUnaryOp::Exp},
                        {sigmoid, SimdUnaryOp::Sigmoid},
                        {tanh, SimdUnaryOp::Tanh}};
  for (int64_t n : kLengths) {
    Tensor buf = randn({n + 1}) * 5.0;
    for (const Tensor& x : {buf.slice(0, 0, n), buf.slice(0, 1, n + 1)})
      for (const Case& c : cases) {
        SCOPED_TRACE(::testing::Message() << name(c.kind) << " n=" << n << " offset=" << x.offset());
        auto [simd, scalar] = both([&] { return c.op(x); });
        expect_within_ulps(simd, scalar, max_ulps(c.kind));
      }
  }
}

// Strided and float64 inputs take the scalar loop on every level: the same bits.
TEST_P(SimdElementwiseIsa, StridedAndFloat64TakeTheScalarLoop) {
  Tensor x = randn({64, 33}).t();
  auto [simd, scalar] = both([&] { return tanh(x); });
  expect_within_ulps(simd, scalar, 0);
  Tensor d = randn({1000}, kFloat64);
  auto [sd, sc] = both([&] { return exp(d); });
  EXPECT_EQ(std::memcmp(sd.data_ptr<double>(), sc.data_ptr<double>(), 1000 * sizeof(double)), 0);
}

TEST_P(SimdElementwiseIsa, BinaryOpsMatchScalarLoopsBitForBit) {
  for (int64_t n : kLengths) {
    Tensor abuf = randn({n + 1}), bbuf = rand({n + 1}) + 0.5;
    for (int off : {0, 1}) {
      Tensor a = abuf.slice(0, off, off + n), b = bbuf.slice(0, 1 - off, 1 - off + n);
      SCOPED_TRACE(::testing::Message() << "n=" << n << " offset=" << off);
      auto check = [&](auto f) {
        auto [simd, scalar] = both(f);
        expect_within_ulps(simd, scalar, 0);
      };
      check([&] { return add(a, b); });
      check([&] { return sub(a, b); });
      check([&] { return mul(a, b); });
      check([&] { return div(a, b); });
      check([&] { return a * 1.7; });      // a broadcast scalar on the right
      check([&] { return 2.5 - a; });      // and on the left
      check([&] { return 3.0 / b; });
      check([&] { return add(a, b, 0.3); });  // alpha other than +-1: scalar on every level
    }
  }
}

TEST_P(SimdElementwiseIsa, BroadcastRowsAndInPlace) {
  Tensor a = randn({37, 33}), row = randn({33}), col = randn({37, 1});
  auto check = [&](auto f) {
    auto [simd, scalar] = both(f);
    expect_within_ulps(simd, scalar, 0);
  };
  check([&] { return add(a, row); });
  check([&] { return mul(a, col); });  // b has stride 0 along the inner dim
  check([&] { return sub(row, a); });
  check([&] {
    Tensor c = a.clone();
    c.add_(row);
    c.mul_(0.5);
    return c;
  });
  check([&] {
    Tensor c = a.clone().slice(1, 1, 33);  // a strided, misaligned in-place target
    c.sub_(row.slice(0, 0, 32));
    return c;
  });
}

INSTANTIATE_TEST_SUITE_P(Isa, SimdElementwiseIsa, ::testing::Values(cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

}  // namespace
}  // namespace kiln
