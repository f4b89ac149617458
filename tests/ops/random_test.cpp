// fused_dropout (ops/random.h): its mask is the one rand's stream gives for the same
// generator state (float32 and float64, sizes not a multiple of a Philox block, split
// over threads), its gradient is the mask, and bad arguments are errors.
#include "kiln.h"
#include "ops/cpu/parallel.h"
#include "ops/random.h"
#include "support/check.h"
#include "support/errors.h"

namespace kiln {
namespace {

using test::allclose;
using test::error_of;

TEST(FusedDropout, MaskIsRandsStreamForTheSameGeneratorState) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(12293), 2 * cpu::kElementwiseGrain + 3}) {
      const double p = 0.3;
      Tensor x = randn({n}, dtype);
      Generator a(42), b(42);
      Tensor y = fused_dropout(x, p, &a);
      Tensor keep = lt(rand({n}, dtype, &b), 1.0 - p).to(dtype);
      EXPECT_TRUE(allclose(y, x * keep * (1.0 / (1.0 - p)), 1e-6, 0)) << dtype_name(dtype) << " n=" << n;
      EXPECT_EQ(a.offset(), b.offset());  // both used the same blocks
    }
  }
}

TEST(FusedDropout, KeepsAboutOneMinusPAndTheGradientIsTheMask) {
  Generator gen(7);
  Tensor x = ones({200000}, DType::Float64).requires_grad_();
  Tensor y = fused_dropout(x, 0.25, &gen);
  const double kept = sum(ne(y, 0.0).to(DType::Float64)).item() / 200000.0;
  EXPECT_NEAR(kept, 0.75, 0.005);
  Tensor w = randn({200000}, DType::Float64);
  sum(y * w).backward();
  EXPECT_TRUE(allclose(x.grad(), w * y, 1e-15, 0));  // y = x * mask with x = 1: y is the mask
}

TEST(FusedDropout, NonContiguousInputAndErrors) {
  Tensor x = randn({6, 4}).t();
  Generator a(1), b(1);
  Tensor keep = lt(rand({4, 6}, DType::Float32, &b), 0.5).to(DType::Float32);
  EXPECT_TRUE(allclose(fused_dropout(x, 0.5, &a), x * keep * 2.0, 1e-6, 0));
  EXPECT_EQ(error_of([] { fused_dropout(ones({2}), 1.0); }), "fused_dropout: p must be in [0, 1), got 1");
  EXPECT_EQ(error_of([] { fused_dropout(ones({2}, DType::Int64), 0.5); }),
            "fused_dropout: expected a float32 or float64 tensor, got int64[2] on cpu");
  EXPECT_EQ(error_of([] { fused_dropout(ones({2}, DType::Float16), 0.5); }),
            "fused_dropout: expected a float32 or float64 tensor, got float16[2] on cpu");
}

}  // namespace
}  // namespace kiln
