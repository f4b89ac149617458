// CPU kernel of fused_dropout: each task draws whole Philox blocks (one block serves 4
// float32 or 2 float64 elements), many at once with SIMD, and writes the mask and the
// output for them.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/cpu/parallel.h"
#include "ops/cpu/philox.h"
#include "ops/kernels/random.h"

namespace kiln {

namespace {

// Note [Dropout threshold]
// An element is kept when its uniform draw u = (bits >> shift) * 2^-b is below
// keep = 1 - p (float32: 24 bits of a word, b = 24; float64: 53 bits of a lane pair,
// b = 53). Since bits >> shift is an integer and keep * 2^b is exact in a double, that is
// the integer comparison (bits >> shift) < ceil(keep * 2^b): the same decision as the
// rand()-style float comparison, bit for bit, in a loop the compiler vectorises.

// One buffer of float64 keep decisions: element k's bits are the lane pair (2k, 2k + 1)
// as one 64-bit word, top 53 bits; mask[k] = kept when they fall below the threshold,
// else 0, and out[k] = x[k] * mask[k]. The decision is a select, not a branch (a coin
// flip a branch predictor misses every other time: the branchy loop took 5 ns per
// element), and the pointers cannot alias, so the compiler vectorises the loop. Float32
// runs the same loop on one word an element, built per ISA (cpu::dropout_keep_float).
void keep_or_drop_double(int64_t len, const uint32_t* __restrict words, const double* __restrict x,
                         double* __restrict out, double* __restrict mask, uint64_t threshold, double kept) {
  for (int64_t k = 0; k < len; ++k) {
    const uint64_t bits = ((uint64_t(words[2 * k]) << 32) | words[2 * k + 1]) >> 11;
    const double m = bits < threshold ? kept : 0.0;
    mask[k] = m;
    out[k] = x[k] * m;
  }
}

// x, out, mask: (n) contiguous, out and mask fresh tensors. Tasks take runs of whole
// Philox blocks; the words of a run come from cpu::philox_blocks (SIMD) into a stack
// buffer, then one pass writes the mask and the output.
void dropout_cpu(const Tensor& out, const Tensor& mask, const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  const int64_t n = x.numel();
  const double keep = 1.0 - p, scale = 1.0 / (1.0 - p);
  constexpr int64_t kRun = 256;  // Philox blocks per buffer: 4 KiB of words
  // Elements per task: drawing the bits costs about 0.6 ns an element on one thread
  // (float32, AVX-512), 20 times a copy's, so the split pays off far below the
  // elementwise grain: 4096 elements are a few microseconds, what waking a thread costs.
  // The MLP's (128, 256) dropout: 18.8 us on one thread.
  constexpr int64_t kGrain = 4096;
  // per_block: elements a Philox block serves; bits: the uniform draw's precision;
  // keep_loop: the keep decisions over one buffer of words.
  auto run = [&]<typename T, typename Bits>(int64_t per_block, int bits, auto keep_loop) {
    const T* xp = x.data_ptr<T>();
    T *op = out.data_ptr<T>(), *mp = mask.data_ptr<T>();
    const Bits threshold = Bits(std::ceil(std::ldexp(keep, bits)));
    const T kept = T(scale);
    const int64_t blocks = (n + per_block - 1) / per_block;
    cpu::parallel_for(0, blocks, kGrain / per_block, [&](int64_t b0, int64_t b1) {
      alignas(64) uint32_t words[4 * kRun];
      for (int64_t r0 = b0; r0 < b1; r0 += kRun) {
        const int64_t r1 = std::min(b1, r0 + kRun);
        cpu::philox_blocks(seed, offset + uint64_t(r0), r1 - r0, words);
        const int64_t i0 = r0 * per_block, i1 = std::min(n, r1 * per_block);
        keep_loop(i1 - i0, words, xp + i0, op + i0, mp + i0, threshold, kept);
      }
    });
  };
  if (x.dtype() == DType::Float32) {  // element i: word i of the run, top 24 bits
    run.template operator()<float, uint32_t>(4, 24, &cpu::dropout_keep_float);
  } else {  // element i: the lane pair (2i, 2i + 1), top 53 bits
    run.template operator()<double, uint64_t>(2, 53, &keep_or_drop_double);
  }
}

}  // namespace

KILN_REGISTER_KERNEL(dropout_stub, DeviceType::CPU, dropout_cpu);

}  // namespace kiln
