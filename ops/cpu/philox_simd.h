// Internal to ops/cpu/philox*.cpp: Philox4x32-10 over a vector of blocks, written once
// over a small SIMD interface V and compiled once per ISA (philox_avx2.cpp,
// philox_avx512.cpp), like the GEMM micro-kernel (Note [GEMM micro-kernels]: the code
// sits in an unnamed namespace so each ISA file keeps its own copy).
#pragma once

#include <cstdint>

namespace kiln::cpu {
namespace {

// Note [SIMD Philox]
// Each lane runs core/generator.cpp's philox4x32 on its own counter: the same rounds, the
// same constants, so every word matches the scalar function's. Three things make it fast:
// - Both halves of a round's 32 x 32 -> 64-bit products come from one pair of
//   even/odd-lane multiplies (V::mul_wide), not a second, low-half multiply.
// - The ten rounds are a chain of dependent multiplies; one register of counters leaves
//   the multiplier idle most of the time, so kGroups registers of counters go through the
//   rounds side by side.
// - The words leave in block order (V::store_blocks, a 4 x lanes transpose in registers)
//   instead of one scalar store per word.
// V provides: Reg (V::kLanes uint32 lanes), set1(uint32_t), xor_, counters(first, lo, hi)
// (lane j: the low and high words of the 64-bit block index first + j), mul_wide(a, m,
// hi, lo) (the high and low halves of every lane's product with m), and
// store_blocks(words, c0, c1, c2, c3), which writes words[4 * j + w] = c_w[j].
constexpr int kGroups = 4;

template <typename V, int G>
void philox_rounds(uint64_t seed, uint64_t first, uint32_t* words) {
  using Reg = typename V::Reg;
  constexpr int L = V::kLanes;
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  Reg c0[G], c1[G], c2[G], c3[G];
  for (int g = 0; g < G; ++g) {  // the counters: block index in words 0 and 1, zeros after
    V::counters(first + uint64_t(g * L), c0[g], c1[g]);
    c2[g] = V::set1(0), c3[g] = V::set1(0);
  }
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const Reg key0 = V::set1(k0), key1 = V::set1(k1);
    for (int g = 0; g < G; ++g) {
      Reg hi0, lo0, hi1, lo1;
      V::mul_wide(c0[g], kM0, hi0, lo0);
      V::mul_wide(c2[g], kM1, hi1, lo1);
      c0[g] = V::xor_(V::xor_(hi1, c1[g]), key0);
      c1[g] = lo1;
      c2[g] = V::xor_(V::xor_(hi0, c3[g]), key1);
      c3[g] = lo0;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int g = 0; g < G; ++g) V::store_blocks(words + 4 * g * L, c0[g], c1[g], c2[g], c3[g]);
}

template <typename V>
void philox_blocks_simd(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  constexpr int L = V::kLanes;
  int64_t done = 0;
  for (; done + kGroups * L <= count; done += kGroups * L)
    philox_rounds<V, kGroups>(seed, first + uint64_t(done), words + 4 * done);
  for (; done + L <= count; done += L) philox_rounds<V, 1>(seed, first + uint64_t(done), words + 4 * done);
  if (done < count) philox_blocks_generic(seed, first + uint64_t(done), count - done, words + 4 * done);
}

// See dropout_keep_float (ops/cpu/philox.h). A select, not a branch, on pointers that
// cannot alias, so the compiler vectorises it at the file's ISA.
inline void dropout_keep_loop(int64_t len, const uint32_t* __restrict words, const float* __restrict x,
                              float* __restrict out, float* __restrict mask, uint32_t threshold, float kept) {
  for (int64_t k = 0; k < len; ++k) {
    const float m = (words[k] >> 8) < threshold ? kept : 0.0f;
    mask[k] = m;
    out[k] = x[k] * m;
  }
}

}  // namespace
}  // namespace kiln::cpu
