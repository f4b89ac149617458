// Generator: seeded, counter-based random numbers (Philox4x32-10). The same seed gives
// the same numbers on every device; see Note [Philox streams].
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace kiln {

// Note [Philox streams]
// Philox4x32-10 maps a 128-bit counter and a 64-bit key to four 32-bit random words,
// with no state between calls, so element i of a random tensor can be computed by
// whichever thread (or CUDA thread) handles element i. The streams are defined as:
//   key     = (lo32(seed), hi32(seed))
//   counter = (lo32(b), hi32(b), 0, 0) for block b = offset + i / per_block
// where `offset` is handed out by the generator (it advances by the number of blocks
// a call used, so consecutive calls never reuse a block).
//   rand, float32:  4 values per block, lane i%4:  (u >> 8) * 2^-24           in [0, 1)
//   rand, float64:  2 values per block, lanes 2(i%2), 2(i%2)+1 as one 64-bit
//                   word w:  (w >> 11) * 2^-53                                  in [0, 1)
//   randn (either): 4 values per block; lanes (0,1) serve i%4 in {0,1} and lanes (2,3)
//                   serve i%4 in {2,3} by Box-Muller in double: u1 = (a + 1) * 2^-32,
//                   u2 = b * 2^-32, r = sqrt(-2 ln u1); even i%4 takes r cos(2 pi u2),
//                   odd takes r sin(2 pi u2); then rounded to the dtype.
//   randint, randperm: 2 values per block, 64-bit words as for float64 rand, reduced
//                   modulo the range.
//   dropout (ops/random.h): rand's stream for the dtype; element i is kept when its
//                   value is below 1 - p.
// A CUDA kernel that follows these rules reproduces the CPU's numbers bit for bit
// (for randn, up to the last-ulp differences of the device's log/sin/cos).
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : seed_(seed) {}
  void manual_seed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Reserves `blocks` consecutive Philox blocks and returns the first one's index.
  uint64_t reserve(uint64_t blocks);

 private:
  std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);  // seeds the default generator, offset back to 0

// One Philox block for (seed, block index): the four words of the stream at that block.
std::array<uint32_t, 4> philox_block(uint64_t seed, uint64_t block);

}  // namespace kiln
