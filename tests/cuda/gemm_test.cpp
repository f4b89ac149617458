// The CUDA SGEMM ladder (cuda/gemm.cu): every version against the CPU's naive GEMM on
// awkward shapes (1, primes, non-multiples of the 32/64 tiles), all four transposition
// cases, padded leading dimensions, beta 0 (C not read) and beta != 0. Skips without a device.
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

// Runs `version` on the device and the CPU's naive GEMM on the host, same inputs.
void check_variant(int version, bool ta, bool tb, const GemmCase& g, float alpha, float beta, Generator& gen) {
  SCOPED_TRACE(std::string(cuda::sgemm_variant_name(version)) + " m=" + std::to_string(g.m) + " n=" +
               std::to_string(g.n) + " k=" + std::to_string(g.k) + " ta=" + std::to_string(ta) +
               " tb=" + std::to_string(tb) + " beta=" + std::to_string(beta));
  // Stored shapes: op(A) is m x k, stored k x m when transposed; leading dims padded by 3.
  const int64_t a_rows = ta ? g.k : g.m, a_cols = ta ? g.m : g.k;
  const int64_t b_rows = tb ? g.n : g.k, b_cols = tb ? g.k : g.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 3, ldc = g.n + 3;
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
  EXPECT_TRUE(test::allclose(got, want, 1e-4, 1e-4 * std::sqrt(double(g.k) + 1.0)));
}

TEST(CudaGemm, EveryVariantMatchesCpuOnAwkwardShapes) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(21);
  const std::vector<GemmCase> cases = {{1, 1, 1}, {7, 13, 5}, {31, 17, 67}, {64, 64, 64}, {65, 129, 33}, {128, 96, 200},
                                       {3, 70, 1}, {1, 200, 37}};
  for (int v = 1; v <= cuda::kNumSgemmVariants; ++v)
    for (const GemmCase& g : cases)
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (float beta : {0.0f, 0.5f}) check_variant(v, ta, tb, g, 1.5f, beta, gen);
}

TEST(CudaGemm, KZeroOrAlphaZeroOnlyScalesC) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator gen(22);
  for (int v = 1; v <= cuda::kNumSgemmVariants; ++v) {
    check_variant(v, false, false, {5, 6, 0}, 1.0f, 0.5f, gen);
    check_variant(v, false, false, {5, 6, 0}, 1.0f, 0.0f, gen);
    check_variant(v, true, false, {9, 4, 3}, 0.0f, 2.0f, gen);
  }
}

TEST(CudaGemm, VariantNumbersAreChecked) {
  EXPECT_STREQ(cuda::sgemm_variant_name(1), "sgemm_kernel1");
  EXPECT_STREQ(cuda::sgemm_variant_name(cuda::kNumSgemmVariants), "sgemm_kernel3");
  EXPECT_THROW(cuda::sgemm_variant_name(0), Error);
  EXPECT_THROW(cuda::sgemm_variant(cuda::kNumSgemmVariants + 1, false, false, 1, 1, 1, 1.f, nullptr, 1, nullptr, 1,
                                   0.f, nullptr, 1),
               Error);
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
