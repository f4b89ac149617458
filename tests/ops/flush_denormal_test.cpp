// cpu::set_flush_denormal (ops/cpu/parallel.h, Note [Flushing denormals]): on, a product
// whose result is denormal gives 0 and a denormal input counts as 0, on every thread
// (200000 elements run on all of them); off, both are IEEE again.
#include <limits>

#include <gtest/gtest.h>

#include "kiln.h"
#include "ops/cpu/parallel.h"

namespace kiln {
namespace {

double nonzeros(const Tensor& t) { return sum(ne(t, 0.0)).item(); }

TEST(FlushDenormal, TinyResultsAndInputsBecomeZeroOnEveryThreadAndComeBack) {
  struct Restore {
    ~Restore() { cpu::set_flush_denormal(false); }
  } restore;
  const int64_t n = 200000;
  const float denormal = std::numeric_limits<float>::denorm_min() * 1000.0f;
  const Tensor small = full({n}, 1e-30), tiny = full({n}, double(denormal));
  if (!cpu::set_flush_denormal(true)) GTEST_SKIP() << "this CPU has no denormal controls";
  EXPECT_EQ(nonzeros(small * 1e-10), 0.0);
  EXPECT_EQ(nonzeros(tiny * 1.0), 0.0);
  ASSERT_TRUE(cpu::set_flush_denormal(false));
  const Tensor product = small * 1e-10;
  EXPECT_EQ(nonzeros(product), double(n));
  EXPECT_LT(amax(product).item<float>(), std::numeric_limits<float>::min());
  EXPECT_EQ(nonzeros(tiny * 1.0), double(n));
}

}  // namespace
}  // namespace kiln
