// The per-ISA row loops (Note [SIMD row kernels], ops/cpu/rows_simd.h) against the same
// templates compiled for the baseline ISA (ops/cpu/rows_loops.h), which are the scalar
// reference (the Generic level runs them directly, so it has no case here): softmax's
// row max, shift and scaling bit for bit, special values included; the layer norm row
// within the rounding of a fused multiply-add.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kiln.h"
#include "ops/cpu/rows_loops.h"
#include "ops/cpu/rows_simd.h"
#include "support/isa.h"

namespace kiln {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Lengths around the 8 lanes and the vector widths, and a long row.
const int64_t kLengths[] = {1, 7, 8, 9, 15, 16, 17, 33, 1000};

std::vector<float> random_row(int64_t n, Generator& gen) {
  return (randn({n}, kFloat32, &gen) * 4.0).to_vector<float>();
}

class RowKernelsIsa : public test::IsaTest {};

TEST_P(RowKernelsIsa, RowMaxIsTheScalarLoopsMaxWithNaNsPassedOver) {
  ASSERT_NE(cpu::row_kernels(), nullptr) << cpu::isa_name(GetParam());
  const cpu::RowKernels& k = *cpu::row_kernels();
  Generator gen(23);
  for (int64_t n : kLengths) {
    std::vector<float> x = random_row(n, gen);
    // The scalar loop of softmax_row: m = std::max(m, x), which keeps m on a NaN.
    auto scalar_max = [&] {
      float m = -kInf;
      for (float v : x) m = std::max(m, v);
      return m;
    };
    EXPECT_EQ(k.row_max(x.data(), n), scalar_max()) << n;
    EXPECT_EQ(k.row_max(x.data(), n), cpu::row_max(x.data(), n)) << n;
    // A NaN in any lane, then also +inf: the NaN is passed over, +inf wins.
    x[size_t(n - 1)] = kNaN;
    EXPECT_EQ(k.row_max(x.data(), n), scalar_max()) << n << " with a NaN";
    x[size_t(n / 2)] = kInf;
    if (n > 1) {
      EXPECT_EQ(k.row_max(x.data(), n), kInf) << n << " with +inf";
    }
  }
  const std::vector<float> all_nan(9, kNaN), all_minus_inf(9, -kInf);
  EXPECT_EQ(k.row_max(all_nan.data(), 9), -kInf);
  EXPECT_EQ(k.row_max(all_minus_inf.data(), 9), -kInf);
}

TEST_P(RowKernelsIsa, RowAddAndScaleAreTheScalarArithmetic) {
  ASSERT_NE(cpu::row_kernels(), nullptr) << cpu::isa_name(GetParam());
  const cpu::RowKernels& k = *cpu::row_kernels();
  Generator gen(29);
  for (int64_t n : kLengths) {
    const std::vector<float> x = random_row(n, gen);
    std::vector<float> shifted(static_cast<size_t>(n));
    std::vector<float> scaled = x, in_place = x;
    k.row_add(x.data(), shifted.data(), n, -1.75f);
    k.row_add(in_place.data(), in_place.data(), n, -1.75f);  // y may be x
    k.row_scale(scaled.data(), n, 0.3f);
    for (int64_t j = 0; j < n; ++j) {
      ASSERT_EQ(shifted[size_t(j)], x[size_t(j)] - 1.75f) << n << " " << j;
      ASSERT_EQ(in_place[size_t(j)], shifted[size_t(j)]) << n << " " << j;
      ASSERT_EQ(scaled[size_t(j)], x[size_t(j)] * 0.3f) << n << " " << j;
    }
  }
}

TEST_P(RowKernelsIsa, LayerNormRowMatchesTheTemplateOnTheBaselineIsa) {
  ASSERT_NE(cpu::row_kernels(), nullptr) << cpu::isa_name(GetParam());
  const cpu::RowKernels& k = *cpu::row_kernels();
  Generator gen(31);
  for (int64_t n : kLengths) {
    const std::vector<float> x = random_row(n, gen), w = random_row(n, gen), b = random_row(n, gen);
    for (int variant = 0; variant < 4; ++variant) {
      const float* wp = variant & 1 ? w.data() : nullptr;
      const float* bp = variant & 2 ? b.data() : nullptr;
      std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
      float got_mean = 0, got_rstd = 0, want_mean = 0, want_rstd = 0;
      k.layer_norm_row(x.data(), wp, bp, got.data(), n, 1e-5, &got_mean, &got_rstd);
      cpu::layer_norm_row_any<float>(x.data(), wp, bp, want.data(), n, 1e-5, &want_mean, &want_rstd);
      // The statistics are double sums in the same 8-lane order (the squares may be
      // fused into multiply-adds on the SIMD levels).
      ASSERT_EQ(got_mean, want_mean) << n << " variant " << variant;
      ASSERT_NEAR(got_rstd, want_rstd, 1e-6f * want_rstd) << n << " variant " << variant;
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_NEAR(got[size_t(j)], want[size_t(j)], 1e-6f * (1.0f + std::abs(want[size_t(j)])))
            << n << " variant " << variant << " element " << j;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, RowKernelsIsa,
                         ::testing::Values(cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

}  // namespace
}  // namespace kiln
