// Many Philox blocks at once: the counter-based generator of core/generator.h evaluated
// for a run of consecutive block indices, with SIMD lanes doing one block each. The
// words are exactly philox_block's, so the CPU and CUDA streams stay bit-identical.
#pragma once

#include <cstdint>

namespace kiln::cpu {

// words[4 * j + w] = philox_block(seed, first + j)[w] for j in [0, count): block after
// block, four words each. Uses the widest path active_isa() allows (16 blocks per step
// with AVX-512, 8 with AVX2, one at a time otherwise). count may be 0.
void philox_blocks(uint64_t seed, uint64_t first, int64_t count, uint32_t* words);

// The same with a given path (tests compare them): "generic", "avx2" or "avx512"
// as cpu_features.h names the levels. The caller checks that the CPU has it.
void philox_blocks_generic(uint64_t seed, uint64_t first, int64_t count, uint32_t* words);
void philox_blocks_avx2(uint64_t seed, uint64_t first, int64_t count, uint32_t* words);
void philox_blocks_avx512(uint64_t seed, uint64_t first, int64_t count, uint32_t* words);

// Dropout's float32 keep decisions over one run of words (Note [Dropout threshold] in
// ops/cpu/random.cpp): element k is kept when words[k] >> 8 < threshold, then
// mask[k] = kept and out[k] = x[k] * kept, else both 0. The same loop compiled for the
// active ISA (the baseline build vectorises it 4 floats at a time).
void dropout_keep_float(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                        uint32_t threshold, float kept);
void dropout_keep_float_generic(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                                uint32_t threshold, float kept);
void dropout_keep_float_avx2(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                             uint32_t threshold, float kept);
void dropout_keep_float_avx512(int64_t len, const uint32_t* words, const float* x, float* out, float* mask,
                               uint32_t threshold, float kept);

}  // namespace kiln::cpu
