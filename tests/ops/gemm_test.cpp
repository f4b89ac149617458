// The CPU GEMM ladder (ops/cpu/gemm.cpp): every variant against gemm_kernel1, the naive
// reference, on awkward shapes (1, primes, non-multiples of the micro-tiles and of the
// cache blocks), all four transpositions, padded leading dimensions, and the alpha/beta
// cases (beta 0 with NaN in C, beta 1, alpha 2); the SIMD variants once per ISA path the
// CPU has (ops/cpu/cpu_features.h).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_microkernel.h"
#include "ops/cpu/parallel.h"
#include "support/isa.h"

namespace kiln {
namespace {

using cpu::gemm_variant;

struct GemmShape {
  int64_t m, n, k;
};

// 1s, primes, one below/above the micro-tiles (6 x 8 portable; 6 x 16 AVX2; 14 x 32 and
// 14 x 16 AVX-512) and the cache blocks (depth 256 and 384, rows 96 and 336, columns
// 256 and 384), shapes spanning several tiles and panels of k, and narrow products that
// run transposed (Note [Narrow products]: the MLP's logits, 128 x 10); then 40 shapes drawn
// from sizes around those tiles.
const std::vector<GemmShape>& awkward_shapes() {
  static const std::vector<GemmShape> shapes = [] {
    std::vector<GemmShape> s = {
        {1, 1, 1},    {1, 7, 13},     {7, 1, 13},     {13, 7, 1},     {7, 13, 31},   {31, 7, 13},
        {5, 7, 9},    {6, 8, 16},     {14, 32, 16},   {15, 33, 385},  {12, 16, 257}, {97, 255, 129},
        {129, 67, 257}, {5, 300, 513}, {200, 3, 5},   {95, 257, 255}, {337, 385, 9}, {28, 64, 770},
        {128, 10, 256}, {300, 17, 40},
    };
    const int64_t sizes[] = {1, 2, 3, 5, 7, 15, 17, 31, 33, 64, 97, 130};
    std::mt19937 gen(2026);
    std::uniform_int_distribution<int> pick(0, 11);
    for (int i = 0; i < 40; ++i) s.push_back({sizes[pick(gen)], sizes[pick(gen)], sizes[pick(gen)]});
    return s;
  }();
  return shapes;
}

struct AlphaBeta {
  double alpha, beta;
};
// beta 0 gets a NaN-filled C (it must not be read), the others random values.
const std::vector<AlphaBeta>& alpha_betas() {
  static const std::vector<AlphaBeta> cases = {{1.0, 0.0}, {1.0, 1.0}, {2.0, 0.0}, {2.0, -0.5}};
  return cases;
}

// Not a variant number: Problem::run packs op(B) once and runs gemm_prepacked.
constexpr int kPrepacked = 0;

// Row-major matrices stored with leading dimensions larger than their widths (padding
// filled with NaN, which no variant may read), so ld handling is tested too.
template <typename T>
struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  T alpha, beta;
  std::vector<T> a, b, c;

  Problem(bool ta, bool tb, GemmShape s, AlphaBeta ab, uint32_t seed)
      : trans_a(ta), trans_b(tb), m(s.m), n(s.n), k(s.k), alpha(T(ab.alpha)), beta(T(ab.beta)) {
    std::mt19937 gen(seed);
    std::normal_distribution<double> normal;
    const T nan = std::numeric_limits<T>::quiet_NaN();
    int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
    int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
    lda = a_cols + 3, ldb = b_cols + 5, ldc = n + 2;
    auto fill = [&](std::vector<T>& x, int64_t rows, int64_t cols, int64_t ld, bool values) {
      x.assign(size_t(rows * ld), nan);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) x[size_t(i * ld + j)] = values ? T(normal(gen)) : nan;
    };
    fill(a, a_rows, a_cols, lda, true);
    fill(b, b_rows, b_cols, ldb, true);
    fill(c, m, n, ldc, beta != T(0));
  }

  // version kPrepacked: op(B) packed once, then gemm_prepacked (Note [Prepacked B]).
  std::vector<T> run(int version) const {
    std::vector<T> out = c;
    if (version == kPrepacked) {
      std::unique_ptr<void, decltype(&std::free)> packed(
          std::aligned_alloc(64, (cpu::gemm_prepacked_b_bytes<T>(k, n) + 63) / 64 * 64), &std::free);
      cpu::gemm_prepack_b<T>(trans_b, k, n, b.data(), ldb, packed.get());
      EXPECT_TRUE(cpu::gemm_prepacked<T>(trans_a, m, n, k, alpha, a.data(), lda, packed.get(), beta, out.data(), ldc));
      return out;
    }
    gemm_variant<T>(version, trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, out.data(), ldc);
    return out;
  }

  // Per element, the forward error bound of a k-term dot product with the alpha/beta
  // update: (k + 4) eps (|alpha| sum_p |A(i,p) B(p,j)| + |beta C(i,j)|), doubled.
  std::vector<T> tolerance() const {
    Problem abs = *this;
    for (T& x : abs.a) x = std::abs(x);
    for (T& x : abs.b) x = std::abs(x);
    for (T& x : abs.c) x = std::abs(x);
    abs.alpha = std::abs(alpha), abs.beta = std::abs(beta);
    std::vector<T> bound = abs.run(1);
    const T eps = std::numeric_limits<T>::epsilon();
    for (T& x : bound) x = 2 * T(k + 4) * eps * x + std::numeric_limits<T>::min();
    return bound;
  }
};

template <typename T>
void expect_variant_matches_reference(int version, bool ta, bool tb, GemmShape s, AlphaBeta ab) {
  SCOPED_TRACE(std::string(version == kPrepacked ? "prepacked" : cpu::gemm_variant_name(version)) + " " +
               (ta ? "A^T" : "A") + " " + (tb ? "B^T" : "B") +
               " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
               " alpha=" + std::to_string(ab.alpha) + " beta=" + std::to_string(ab.beta) + " " +
               (sizeof(T) == 4 ? "float" : "double"));
  Problem<T> p(ta, tb, s, ab, uint32_t(s.m * 1000003 + s.n * 1009 + s.k));
  std::vector<T> expected = p.run(1), actual = p.run(version), tol = p.tolerance();
  int bad = 0;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.ldc; ++j) {
      size_t at = size_t(i * p.ldc + j);
      if (j >= p.n) {  // the padding of C is never written
        EXPECT_TRUE(std::isnan(actual[at])) << "wrote C(" << i << ", " << j << "), in the padding";
        continue;
      }
      bool ok = std::isfinite(actual[at]) && std::abs(actual[at] - expected[at]) <= tol[at];
      if (!ok && bad++ < 5) {
        ADD_FAILURE() << "C(" << i << ", " << j << ") = " << actual[at] << ", reference " << expected[at]
                      << ", tolerance " << tol[at];
      }
    }
  }
  EXPECT_EQ(bad, 0) << "mismatching elements";
}

template <typename T>
void check_variants(int first, int last) {
  for (int version = first; version <= last; ++version)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (const GemmShape& s : awkward_shapes())
          for (const AlphaBeta& ab : alpha_betas()) expect_variant_matches_reference<T>(version, ta, tb, s, ab);
}

// Versions 2 and 3 are portable C++ and do not depend on the ISA.
TEST(Gemm, PortableVariantsMatchNaiveOnAwkwardShapesFloat) { check_variants<float>(2, 3); }
TEST(Gemm, PortableVariantsMatchNaiveOnAwkwardShapesDouble) { check_variants<double>(2, 3); }

// Versions 4 and 5 (and gemm(), which runs 5) once per ISA path: Generic, Avx2, Avx512,
// each skipped on a CPU without it.
class GemmIsa : public test::IsaTest {};

TEST_P(GemmIsa, SimdVariantsMatchNaiveOnAwkwardShapesFloat) { check_variants<float>(4, cpu::kNumGemmVariants); }
TEST_P(GemmIsa, SimdVariantsMatchNaiveOnAwkwardShapesDouble) { check_variants<double>(4, cpu::kNumGemmVariants); }

// Several cache blocks in every direction (m > 336, n > 384, k > 384), one thread and all.
TEST_P(GemmIsa, SeveralCacheBlocksInEveryDirection) {
  for (int version = 4; version <= cpu::kNumGemmVariants; ++version) {
    expect_variant_matches_reference<float>(version, false, true, {345, 777, 401}, {2.0, -0.5});
    expect_variant_matches_reference<double>(version, true, false, {345, 400, 390}, {1.0, 0.0});
  }
}

TEST_P(GemmIsa, ManyMacroTilesAcrossThreads) {
  for (int version = 2; version <= cpu::kNumGemmVariants; ++version)
    expect_variant_matches_reference<float>(version, false, false, {300, 530, 300}, {1.0, 1.0});
}

// The MLP's three products (forward, dinput, dweight) on one thread and on all.
TEST_P(GemmIsa, MlpShapesOnOneThreadAndAll) {
  const int before = cpu::num_threads();
  for (int threads : {1, before}) {
    cpu::set_num_threads(threads);
    expect_variant_matches_reference<float>(5, false, true, {128, 256, 784}, {1.0, 0.0});
    expect_variant_matches_reference<float>(5, false, false, {128, 784, 256}, {1.0, 0.0});
    expect_variant_matches_reference<float>(5, true, false, {256, 784, 128}, {1.0, 1.0});
  }
  cpu::set_num_threads(before);
}

// More threads than rows or columns of micro-tiles: the extra threads get nothing.
TEST_P(GemmIsa, MoreThreadsThanTiles) {
  const int before = cpu::num_threads();
  cpu::set_num_threads(7);
  expect_variant_matches_reference<float>(5, false, false, {9, 20, 3000}, {1.0, 0.0});
  expect_variant_matches_reference<double>(5, true, true, {600, 5, 700}, {2.0, 0.5});
  cpu::set_num_threads(before);
}

// A GEMM called from inside a parallel region (each band of Note [LSTM row bands] runs
// its products there) stays on its thread and gives the values of a call from outside,
// bit for bit: the split over threads never changes the order of any sum.
TEST(Gemm, CalledInsideAParallelRegionMatchesACallOutsideIt) {
  const int before = cpu::num_threads();
  cpu::set_num_threads(3);
  const int64_t m = 45, n = 70, k = 300;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> a(m * k), b(k * n), outside(m * n);
  for (float& v : a) v = dist(rng);
  for (float& v : b) v = dist(rng);
  cpu::gemm<float>(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, outside.data(), n);
  std::vector<std::vector<float>> inside(3, std::vector<float>(m * n));
  cpu::parallel_for(0, 3, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      EXPECT_EQ(cpu::available_threads(), 1);
      cpu::gemm<float>(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, inside[size_t(t)].data(), n);
    }
  });
  cpu::set_num_threads(before);
  for (const std::vector<float>& c : inside) EXPECT_EQ(c, outside);
}

// op(B) packed once (Note [Prepacked B]): every awkward shape, transposition and
// alpha/beta, on one thread and on all; several depth blocks and thread rectangles.
TEST_P(GemmIsa, PrepackedBMatchesNaive) {
  const int before = cpu::num_threads();
  for (int threads : {1, before}) {
    cpu::set_num_threads(threads);
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (const GemmShape& s : awkward_shapes())
          for (const AlphaBeta& ab : alpha_betas()) expect_variant_matches_reference<float>(kPrepacked, ta, tb, s, ab);
    expect_variant_matches_reference<float>(kPrepacked, false, true, {64, 512, 128}, {1.0, 0.0});  // an LSTM step
    expect_variant_matches_reference<double>(kPrepacked, true, false, {345, 777, 401}, {2.0, -0.5});
  }
  cpu::set_num_threads(before);
}

// The float packing routines of the SIMD kernels (the register transposes of Note
// [Transposing packs], with their edge panels and depth tails) against the portable
// template, buffer for buffer, zero padding included.
TEST(Gemm, SimdPackingMatchesThePortableTemplate) {
  std::vector<std::pair<const char*, cpu::GemmMicroKernel<float>>> kernels;
  if (int(cpu::detected_isa()) >= int(cpu::CpuIsa::Avx2))
    kernels.emplace_back("avx2", cpu::gemm_micro_kernel_avx2<float>());
  if (int(cpu::detected_isa()) >= int(cpu::CpuIsa::Avx512))
    kernels.emplace_back("avx512", cpu::gemm_micro_kernel_avx512<float>());
  if (kernels.empty()) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t ld = 70;  // rows and columns of the source beyond any block below
  std::vector<float> src(size_t(ld * ld));
  for (float& v : src) v = dist(rng);
  for (const auto& [isa, kernel] : kernels)
    for (bool trans : {false, true})
      for (int64_t rows : {1, 2, 13, 14, 15, 27, 28, 31, 32, 33, 50})
        for (int64_t kc : {1, 15, 16, 17, 33}) {
          SCOPED_TRACE(::testing::Message() << isa << " trans=" << trans << " rows=" << rows << " kc=" << kc);
          // The packs write 64-byte aligned panels: fill an aligned buffer of the panels'
          // size with `fill`, pack into it, return its contents.
          auto packed = [&](int64_t per_panel, float fill, auto pack) {
            const int64_t size = (rows + per_panel - 1) / per_panel * per_panel * kc;
            std::unique_ptr<float[], decltype(&std::free)> buf(
                static_cast<float*>(std::aligned_alloc(64, size_t((size * 4 + 63) / 64 * 64))), &std::free);
            std::fill(buf.get(), buf.get() + size, fill);
            pack(buf.get());
            return std::vector<float>(buf.get(), buf.get() + size);
          };
          const float* a = src.data() + 3;
          auto got = packed(kernel.mr, 7.0f, [&](float* out) { kernel.pack_a(trans, a, ld, 2, rows, 1, kc, out); });
          auto want = packed(kernel.mr, 9.0f, [&](float* out) {
            if (kernel.mr == 14) cpu::gemm_pack_a<float, 14>(trans, a, ld, 2, rows, 1, kc, out);
            else cpu::gemm_pack_a<float, 6>(trans, a, ld, 2, rows, 1, kc, out);
          });
          EXPECT_EQ(got, want) << "pack_a";
          got = packed(kernel.nr, 7.0f, [&](float* out) { kernel.pack_b(trans, a, ld, 1, kc, 2, rows, out); });
          want = packed(kernel.nr, 9.0f, [&](float* out) {
            if (kernel.nr == 32) cpu::gemm_pack_b<float, 32>(trans, a, ld, 1, kc, 2, rows, out);
            else cpu::gemm_pack_b<float, 16>(trans, a, ld, 1, kc, 2, rows, out);
          });
          EXPECT_EQ(got, want) << "pack_b";
        }
}

// A packing made by another micro-kernel, or for another shape, is refused (the caller
// then runs gemm()), and nothing is written.
TEST(Gemm, PrepackedBIsRefusedForAnotherKernelOrShape) {
  const int64_t k = 40, n = 50;
  std::vector<float> b(size_t(k * n), 1.0f), a(size_t(3 * k), 1.0f), c(size_t(3 * n), -7.0f);
  std::unique_ptr<void, decltype(&std::free)> packed(
      std::aligned_alloc(64, (cpu::gemm_prepacked_b_bytes<float>(k, n) + 63) / 64 * 64), &std::free);
  cpu::gemm_prepack_b<float>(false, k, n, b.data(), n, packed.get());
  EXPECT_FALSE(cpu::gemm_prepacked<float>(false, 3, n - 1, k, 1.0f, a.data(), k, packed.get(), 0.0f, c.data(), n));
  EXPECT_FALSE(cpu::gemm_prepacked<float>(false, 3, n, k + 1, 1.0f, a.data(), k, packed.get(), 0.0f, c.data(), n));
  if (cpu::detected_isa() != cpu::CpuIsa::Generic) {
    const cpu::CpuIsa before = cpu::active_isa();
    cpu::set_active_isa(before == cpu::CpuIsa::Generic ? cpu::detected_isa() : cpu::CpuIsa::Generic);
    EXPECT_FALSE(cpu::gemm_prepacked<float>(false, 3, n, k, 1.0f, a.data(), k, packed.get(), 0.0f, c.data(), n));
    cpu::set_active_isa(before);
  }
  for (float v : c) EXPECT_EQ(v, -7.0f);
  EXPECT_TRUE(cpu::gemm_prepacked<float>(false, 3, n, k, 1.0f, a.data(), k, packed.get(), 0.0f, c.data(), n));
  for (float v : c) EXPECT_EQ(v, float(k));
}

INSTANTIATE_TEST_SUITE_P(Cpu, GemmIsa,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

TEST(Gemm, EveryVariantMatchesNaiveOnOneThread) {
  int before = cpu::num_threads();
  cpu::set_num_threads(1);
  for (int version = 2; version <= cpu::kNumGemmVariants; ++version)
    expect_variant_matches_reference<float>(version, false, true, {129, 67, 257}, {2.0, 0.0});
  cpu::set_num_threads(before);
}

// gemm() picks a variant by shape (1 for a dot product, 2 for a row vector): same results.
TEST(Gemm, DispatchMatchesNaive) {
  const std::vector<GemmShape> shapes = {{1, 1, 1000}, {1, 1, 1}, {1, 40, 30}, {40, 1, 30}, {33, 17, 65}};
  for (bool tb : {false, true}) {
    for (GemmShape s : shapes) {
      Problem<double> p(true, tb, s, {2.0, 0.5}, 7);
      std::vector<double> expected = p.run(1), actual = p.c, tol = p.tolerance();
      cpu::gemm<double>(p.trans_a, p.trans_b, p.m, p.n, p.k, p.alpha, p.a.data(), p.lda, p.b.data(), p.ldb, p.beta,
                        actual.data(), p.ldc);
      for (int64_t i = 0; i < p.m; ++i) {
        for (int64_t j = 0; j < p.n; ++j) {
          size_t at = size_t(i * p.ldc + j);
          EXPECT_NEAR(actual[at], expected[at], tol[at]) << "m=" << s.m << " n=" << s.n << " k=" << s.k;
        }
      }
    }
  }
}

// k == 0 leaves beta * C (zeros for beta 0, NaN in C or not); A and B are never read.
TEST(Gemm, EmptyInnerDimensionScalesC) {
  for (int version = 1; version <= cpu::kNumGemmVariants; ++version) {
    std::vector<float> c = {1, 2, std::nanf(""), 4};
    gemm_variant<float>(version, false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.f, c.data(), 2);
    EXPECT_EQ(c, (std::vector<float>{0, 0, 0, 0}));
    std::vector<double> d = {1, 2, 3, 4};
    gemm_variant<double>(version, true, true, 2, 2, 0, 1.0, nullptr, 2, nullptr, 1, 3.0, d.data(), 2);
    EXPECT_EQ(d, (std::vector<double>{3, 6, 9, 12}));
  }
}

TEST(Gemm, AlphaZeroDoesNotReadAOrB) {
  for (int version = 1; version <= cpu::kNumGemmVariants; ++version) {
    std::vector<float> a = {std::nanf(""), 1}, b = {1, std::nanf("")}, c = {1, 2, 3, 4};
    gemm_variant<float>(version, false, false, 2, 2, 1, 0.f, a.data(), 1, b.data(), 2, 0.5f, c.data(), 2);
    EXPECT_EQ(c, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  }
}

TEST(Gemm, EmptyOutputTouchesNothing) {
  for (int version = 1; version <= cpu::kNumGemmVariants; ++version) {
    gemm_variant<float>(version, false, false, 0, 5, 3, 1.f, nullptr, 3, nullptr, 5, 0.f, nullptr, 5);
    gemm_variant<double>(version, false, false, 4, 0, 3, 1.0, nullptr, 3, nullptr, 0, 0.0, nullptr, 0);
  }
}

TEST(Gemm, UnknownVariantIsAnError) {
  float c = 0;
  try {
    gemm_variant<float>(cpu::kNumGemmVariants + 1, false, false, 1, 1, 1, 1.f, &c, 1, &c, 1, 0.f, &c, 1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "gemm: no variant " + std::to_string(cpu::kNumGemmVariants + 1) + " (variants are 1 to " +
                               std::to_string(cpu::kNumGemmVariants) + ")");
  }
  EXPECT_STREQ(cpu::gemm_variant_name(1), "gemm_kernel1");
  EXPECT_STREQ(cpu::gemm_variant_name(3), "gemm_kernel3");
  EXPECT_STREQ(cpu::gemm_variant_name(5), "gemm_kernel5");
}

}  // namespace
}  // namespace kiln
