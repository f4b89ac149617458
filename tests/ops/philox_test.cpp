// cpu::philox_blocks (ops/cpu/philox.h) on every ISA path the CPU has: its words are the
// scalar philox_block's for runs that start anywhere (including across the 2^32 carry
// into the counter's second word) and end anywhere, and dropout's masks built on it are
// still rand()'s stream bit for bit.
#include <gtest/gtest.h>

#include <vector>

#include "core/generator.h"
#include "kiln.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/philox.h"
#include "ops/random.h"
#include "support/isa.h"

namespace kiln {
namespace {

class PhiloxIsa : public test::IsaTest {};

TEST_P(PhiloxIsa, BlocksAreTheScalarGeneratorsWords) {
  const uint64_t seeds[] = {0, 0x5eed, 0xfedcba9876543210ull};
  const uint64_t firsts[] = {0, 3, (uint64_t(1) << 32) - 5, 0xffffffffffffff00ull};
  for (uint64_t seed : seeds) {
    for (uint64_t first : firsts) {
      for (int64_t count : {0, 1, 7, 8, 15, 16, 17, 33, 63, 64, 65, 100, 128, 200}) {
        std::vector<uint32_t> words(size_t(4 * count) + 4, 0xdeadbeefu);
        cpu::philox_blocks(seed, first, count, words.data());
        for (int64_t j = 0; j < count; ++j) {
          const std::array<uint32_t, 4> expect = philox_block(seed, first + uint64_t(j));
          for (int w = 0; w < 4; ++w) {
            ASSERT_EQ(words[size_t(4 * j + w)], expect[size_t(w)])
                << "seed " << seed << " first " << first << " count " << count << " block " << j << " word " << w;
          }
        }
        for (int w = 0; w < 4; ++w) EXPECT_EQ(words[size_t(4 * count + w)], 0xdeadbeefu) << "wrote past the end";
      }
    }
  }
}

// The mask is rand()'s comparison exactly (Note [Dropout threshold]), here with p values
// whose keep * 2^24 is and is not an integer.
TEST_P(PhiloxIsa, DropoutMaskIsRandsComparisonExactly) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (double p : {0.5, 0.3, 0.1, 1.0 / 3.0}) {
      const int64_t n = 70001;
      Tensor x = ones({n}, dtype);
      Generator a(11), b(11);
      Tensor y = fused_dropout(x, p, &a);
      Tensor keep = lt(rand({n}, dtype, &b), 1.0 - p).to(DType::Int64);
      Tensor kept = ne(y, 0.0).to(DType::Int64);
      EXPECT_EQ(sum(ne(kept, keep)).item(), 0.0) << dtype_name(dtype) << " p=" << p;
      EXPECT_EQ(a.offset(), b.offset());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, PhiloxIsa,
                         ::testing::Values(cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512),
                         test::isa_test_name);

}  // namespace
}  // namespace kiln
