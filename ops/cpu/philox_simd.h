// Internal to ops/cpu/philox*.cpp: Philox4x32-10 over a vector of blocks, written once
// over a small SIMD interface V and compiled once per ISA (philox_avx2.cpp,
// philox_avx512.cpp), like the GEMM micro-kernel (Note [GEMM micro-kernels]: the code
// sits in an unnamed namespace so each ISA file keeps its own copy).
#pragma once

#include <cstdint>

namespace kiln::cpu {
namespace {

// V provides: Reg (V::kLanes uint32 lanes), load(const uint32_t*), store(uint32_t*, Reg),
// set1(uint32_t), add, xor_, and mul_hi / mul_lo (the high and low halves of the 32 x 32
// -> 64-bit product of every lane with one constant).
// Each lane runs core/generator.cpp's philox4x32 on its own counter: the same rounds,
// the same constants, so every word matches the scalar function's.
template <typename V>
void philox_blocks_simd(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  constexpr int L = V::kLanes;
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  const uint32_t key0 = uint32_t(seed), key1 = uint32_t(seed >> 32);
  alignas(64) uint32_t lo[L], hi[L], out[4][L];
  int64_t done = 0;
  for (; done + L <= count; done += L) {
    for (int j = 0; j < L; ++j) {  // the counters: block index in words 0 and 1, zeros after
      const uint64_t block = first + uint64_t(done + j);
      lo[j] = uint32_t(block);
      hi[j] = uint32_t(block >> 32);
    }
    typename V::Reg c0 = V::load(lo), c1 = V::load(hi), c2 = V::set1(0), c3 = V::set1(0);
    uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; ++round) {
      const typename V::Reg hi0 = V::mul_hi(c0, kM0), lo0 = V::mul_lo(c0, kM0);
      const typename V::Reg hi1 = V::mul_hi(c2, kM1), lo1 = V::mul_lo(c2, kM1);
      c0 = V::xor_(V::xor_(hi1, c1), V::set1(k0));
      c1 = lo1;
      c2 = V::xor_(V::xor_(hi0, c3), V::set1(k1));
      c3 = lo0;
      k0 += kW0;
      k1 += kW1;
    }
    V::store(out[0], c0), V::store(out[1], c1), V::store(out[2], c2), V::store(out[3], c3);
    uint32_t* dst = words + 4 * done;
    for (int j = 0; j < L; ++j) {
      dst[4 * j] = out[0][j], dst[4 * j + 1] = out[1][j], dst[4 * j + 2] = out[2][j], dst[4 * j + 3] = out[3][j];
    }
  }
  if (done < count) philox_blocks_generic(seed, first + uint64_t(done), count - done, words + 4 * done);
}

}  // namespace
}  // namespace kiln::cpu
