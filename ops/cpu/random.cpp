// CPU kernel of fused_dropout: each task draws whole Philox blocks (one block serves 4
// float32 or 2 float64 elements) and writes the mask and the output for them.
#include <cstdint>

#include "core/generator.h"
#include "ops/cpu/parallel.h"
#include "ops/kernels/random.h"

namespace kiln {

namespace {

// x, out, mask: (n) contiguous.
void dropout_cpu(const Tensor& out, const Tensor& mask, const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  const int64_t n = x.numel();
  const double keep_below = 1.0 - p, scale = 1.0 / (1.0 - p);
  auto run = [&]<typename T>(int64_t per_block, auto value_of) {
    const T* xp = x.data_ptr<T>();
    T *op = out.data_ptr<T>(), *mp = mask.data_ptr<T>();
    const int64_t blocks = (n + per_block - 1) / per_block;
    cpu::parallel_for(0, blocks, cpu::kElementwiseGrain / per_block, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const std::array<uint32_t, 4> words = philox_block(seed, offset + uint64_t(b));
        for (int64_t lane = 0; lane < per_block; ++lane) {
          const int64_t i = b * per_block + lane;
          if (i >= n) break;
          const T m = value_of(words, lane) < keep_below ? T(scale) : T(0);
          mp[i] = m;
          op[i] = xp[i] * m;
        }
      }
    });
  };
  if (x.dtype() == DType::Float32) {  // rand float32: (u >> 8) * 2^-24
    run.template operator()<float>(4, [](const std::array<uint32_t, 4>& w, int64_t lane) {
      return double(float(w[size_t(lane)] >> 8) * 0x1.0p-24f);
    });
  } else {  // rand float64: the lane pair as one 64-bit word w, (w >> 11) * 2^-53
    run.template operator()<double>(2, [](const std::array<uint32_t, 4>& w, int64_t lane) {
      const uint64_t word = (uint64_t(w[size_t(2 * lane)]) << 32) | w[size_t(2 * lane + 1)];
      return double(word >> 11) * 0x1.0p-53;
    });
  }
}

}  // namespace

KILN_REGISTER_KERNEL(dropout_stub, DeviceType::CPU, dropout_cpu);

}  // namespace kiln
