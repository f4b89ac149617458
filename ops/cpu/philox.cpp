// philox_blocks: the scalar path and the choice of the SIMD one (ops/cpu/philox.h).
#include "ops/cpu/philox.h"

#include "core/generator.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/philox_simd.h"

namespace kiln::cpu {

void philox_blocks_generic(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  for (int64_t j = 0; j < count; ++j) {
    const std::array<uint32_t, 4> w = philox_block(seed, first + uint64_t(j));
    for (int i = 0; i < 4; ++i) words[4 * j + i] = w[size_t(i)];
  }
}

void philox_blocks(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  switch (active_isa()) {
    case CpuIsa::Avx512:
      return philox_blocks_avx512(seed, first, count, words);
    case CpuIsa::Avx2:
      return philox_blocks_avx2(seed, first, count, words);
    case CpuIsa::Generic:
      break;
  }
  philox_blocks_generic(seed, first, count, words);
}

void dropout_keep_float_generic(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                                uint32_t threshold, float kept) {
  dropout_keep_loop(len, words, x, out, mask, threshold, kept);
}

void dropout_keep_float(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                        uint32_t threshold, float kept) {
  switch (active_isa()) {
    case CpuIsa::Avx512:
      return dropout_keep_float_avx512(len, words, x, out, mask, threshold, kept);
    case CpuIsa::Avx2:
      return dropout_keep_float_avx2(len, words, x, out, mask, threshold, kept);
    case CpuIsa::Generic:
      break;
  }
  dropout_keep_float_generic(len, words, x, out, mask, threshold, kept);
}

}  // namespace kiln::cpu
