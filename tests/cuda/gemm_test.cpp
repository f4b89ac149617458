// The CUDA SGEMM ladder (cuda/gemm.cu): every version against the CPU's naive GEMM on
// awkward shapes (1, primes, non-multiples of the 32/64/128 tiles and of the 8/16-deep
// k-slices), all four transposition cases, leading dimensions that allow float4 loads and
// ones that do not, beta 0 (C not read) and beta != 0. Skips without a device.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kiln.h"
#include "ops/cpu/gemm.h"
#include "support/check.h"
#include "support/cuda.h"

#ifdef KILN_WITH_CUDA
#include "cuda/gemm.h"
#include "cuda/runtime.h"
#endif

namespace kiln {
namespace {

#ifdef KILN_WITH_CUDA

struct GemmCase {
  int64_t m, n, k;
};

// Tolerances, |got - want| <= atol + rtol |want| against the CPU's float32 GEMM (inputs
// randn, so a k-term sum has magnitude ~ sqrt(k)):
//   versions 1-4: float32 sums in another order, rtol 1e-4, atol 1e-4 sqrt(k + 1);
//   version 5:    inputs rounded to tf32 (2^-11 relative each, so ~1e-3 per product),
//                 rtol 1e-2, atol 1e-2 sqrt(k + 1) |alpha|; one product missing or doubled
//                 (error ~1 |alpha|) still fails for every k tested here.
struct Tolerance {
  double rtol, atol;
};
Tolerance tolerance_for(int version, int64_t k, float alpha) {
  const double scale = std::sqrt(double(k) + 1.0);
  if (version == 5) return {1e-2, 1e-2 * scale * std::max(1.0, double(std::abs(alpha)))};
  return {1e-4, 1e-4 * scale};
}

// Runs `version` on the device and the CPU's naive GEMM on the host, same inputs. The
// stored operands' leading dimensions are their widths rounded up to a multiple of 4
// plus `pad`: pad 0 lets versions 4 and 5 use float4 loads, pad 3 (or 1, 2) makes them
// read element by element (Note [SGEMM vector loads] in cuda/gemm.cu).
void check_variant(int version, bool ta, bool tb, const GemmCase& g, float alpha, float beta, Generator& gen,
                   int64_t pad = 3) {
  SCOPED_TRACE(std::string(cuda::sgemm_variant_name(version)) + " m=" + std::to_string(g.m) + " n=" +
               std::to_string(g.n) + " k=" + std::to_string(g.k) + " ta=" + std::to_string(ta) +
               " tb=" + std::to_string(tb) + " beta=" + std::to_string(beta) + " pad=" + std::to_string(pad));
  // Stored shapes: op(A) is m x k, stored k x m when transposed.
  const int64_t a_rows = ta ? g.k : g.m, a_cols = ta ? g.m : g.k;
  const int64_t b_rows = tb ? g.n : g.k, b_cols = tb ? g.k : g.n;
  auto padded = [pad](int64_t cols) { return (cols + 3) / 4 * 4 + pad; };
  const int64_t lda = padded(a_cols), ldb = padded(b_cols), ldc = padded(g.n);
  Tensor a = randn({std::max<int64_t>(a_rows, 1), lda}, {}, &gen);
  Tensor b = randn({std::max<int64_t>(b_rows, 1), ldb}, {}, &gen);
  Tensor c = randn({std::max<int64_t>(g.m, 1), ldc}, {}, &gen);
  if (beta == 0.0f) c.fill_(std::numeric_limits<double>::quiet_NaN());  // never read when beta == 0
  Tensor da = a.to(Device::cuda()), db = b.to(Device::cuda()), dc = c.to(Device::cuda());
  cuda::sgemm_variant(version, ta, tb, g.m, g.n, g.k, alpha, static_cast<const float*>(da.raw_data()), lda,
                      static_cast<const float*>(db.raw_data()), ldb, beta, static_cast<float*>(dc.raw_data()), ldc);
  cuda::synchronize();
  Tensor want = c.clone();
  cpu::gemm_variant<float>(1, ta, tb, g.m, g.n, g.k, alpha, a.data_ptr<float>(), lda, b.data_ptr<float>(), ldb, beta,
                           want.data_ptr<float>(), ldc);
  Tensor got = dc.to(Device::cpu());
  // Only the m x n part is C; the padding columns must be left alone (compared too).
  const Tolerance tol = tolerance_for(version, g.k, alpha);
  EXPECT_TRUE(test::allclose(got, want, tol.rtol, tol.atol));
}

// Version 5 needs tf32 tensor cores (compute capability 8.0+); older devices skip it.
bool variant_runs_here(int version) {
  if (version != 5) return true;
  int major = 0;
  return cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) == cudaSuccess && major >= 8;
}

TEST(CudaGemm, EveryVariantMatchesCpuOnAwkwardShapes) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(21);
  const std::vector<GemmCase> cases = {{1, 1, 1}, {7, 13, 5}, {31, 17, 67}, {64, 64, 64}, {65, 129, 33}, {128, 96, 200},
                                       {3, 70, 1}, {1, 200, 37}};
  for (int v = 1; v <= cuda::kNumSgemmVariants; ++v) {
    if (!variant_runs_here(v)) continue;
    for (const GemmCase& g : cases)
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (float beta : {0.0f, 0.5f}) check_variant(v, ta, tb, g, 1.5f, beta, gen);
  }
}

// Versions 4 and 5 on shapes around their 128x128 tiles and 8/16-deep k-slices, both
// with float4 loads (pad 0: leading dimensions multiples of 4) and without (pad 1, 3),
// so the vector path's edge fallback and the scalar path are both checked.
TEST(CudaGemm, VectorisedAndTensorCoreVariantsMatchCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(23);
  const std::vector<GemmCase> cases = {{1, 1, 1},     {1, 131, 7},    {131, 1, 9},    {128, 128, 8},
                                       {128, 128, 16}, {127, 129, 17}, {257, 130, 41}, {200, 260, 300},
                                       {13, 256, 3},   {256, 5, 129}};
  for (int v : {4, 5}) {
    if (!variant_runs_here(v)) continue;
    for (const GemmCase& g : cases)
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (int64_t pad : {0, 1, 3}) {
            const float alpha = pad == 1 ? -0.75f : 1.0f, beta = pad == 0 ? 0.0f : 0.5f;
            check_variant(v, ta, tb, g, alpha, beta, gen, pad);
          }
  }
}

// Version 5 rounds its inputs to tf32: on values with more than 11 significant bits it
// differs from float32 (so it really runs on tensor cores), by no more than tf32's
// rounding allows. A = 1 + 2^-13 (not a tf32 value, rounds to 1), B = 1, k = 16:
// float32 gives 16 (1 + 2^-13), tf32 inputs give exactly 16.
TEST(CudaGemm, TensorCoreVariantRoundsInputsToTf32) {
  KILN_REQUIRE_CUDA_DEVICE();
  if (!variant_runs_here(5)) GTEST_SKIP() << "sgemm_kernel5 needs compute capability 8.0+";
  const int64_t m = 16, n = 16, k = 16;
  const float x = 1.0f + std::ldexp(1.0f, -13);
  Tensor a = full({m, k}, x).to(Device::cuda()), b = ones({k, n}).to(Device::cuda());
  Tensor c = zeros({m, n}).to(Device::cuda());
  for (int v : {4, 5}) {
    cuda::sgemm_variant(v, false, false, m, n, k, 1.0f, static_cast<const float*>(a.raw_data()), k,
                        static_cast<const float*>(b.raw_data()), n, 0.0f, static_cast<float*>(c.raw_data()), n);
    cuda::synchronize();
    const float got = c.to(Device::cpu()).data_ptr<float>()[0];
    if (v == 4) EXPECT_EQ(got, 16.0f * x);
    else EXPECT_EQ(got, 16.0f);
  }
}

TEST(CudaGemm, KZeroOrAlphaZeroOnlyScalesC) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(22);
  for (int v = 1; v <= cuda::kNumSgemmVariants; ++v) {
    if (!variant_runs_here(v)) continue;
    check_variant(v, false, false, {5, 6, 0}, 1.0f, 0.5f, gen);
    check_variant(v, false, false, {5, 6, 0}, 1.0f, 0.0f, gen);
    check_variant(v, true, false, {9, 4, 3}, 0.0f, 2.0f, gen);
  }
}

TEST(CudaGemm, VariantNumbersAreChecked) {
  EXPECT_STREQ(cuda::sgemm_variant_name(1), "sgemm_kernel1");
  EXPECT_STREQ(cuda::sgemm_variant_name(4), "sgemm_kernel4");
  EXPECT_STREQ(cuda::sgemm_variant_name(cuda::kNumSgemmVariants), "sgemm_kernel5");
  EXPECT_THROW(cuda::sgemm_variant_name(0), Error);
  EXPECT_THROW(cuda::sgemm_variant(cuda::kNumSgemmVariants + 1, false, false, 1, 1, 1, 1.f, nullptr, 1, nullptr, 1,
                                   0.f, nullptr, 1),
               Error);
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
