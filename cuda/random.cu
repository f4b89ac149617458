// CUDA kernel of fused_dropout (ops/random.cpp): the device twin of ops/cpu/random.cpp.
// A thread draws one Philox block at a time and writes the 4 (float32) or 2 (float64)
// elements it serves, so the mask is bit-identical to the CPU's; see Note [Philox streams].
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/runtime.h"
#include "ops/kernels/random.h"

namespace kiln {

namespace {

struct Words {
  uint32_t w[4];
};

// Philox4x32-10, step for step core/generator.cpp's philox4x32: counter c, key k.
__device__ Words philox4x32_device(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kM0) * c0;
    const uint64_t p1 = uint64_t(kM1) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n1 = uint32_t(p1);
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1, n3 = uint32_t(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kW0, k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

// The block `block` of the stream of `seed` (core/generator.cpp's philox_block).
__device__ Words philox_block_device(uint64_t seed, uint64_t block) {
  return philox4x32_device(uint32_t(block), uint32_t(block >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
}

// The uniform value of `lane` in block w, in double: rand's rules for T.
__device__ double uniform_of(const Words& w, int lane, float) {
  return double(float(w.w[lane] >> 8) * 0x1.0p-24f);  // (u >> 8) * 2^-24
}
__device__ double uniform_of(const Words& w, int lane, double) {
  const uint64_t word = (uint64_t(w.w[2 * lane]) << 32) | w.w[2 * lane + 1];
  return double(word >> 11) * 0x1.0p-53;  // (w >> 11) * 2^-53
}

// x, out, mask: (n) contiguous. Thread-blocks loop grid-stride over the Philox blocks
// b in [0, ceil(n / per_block)); block b serves elements [b * per_block, +per_block).
template <typename T>
__global__ void dropout_kernel1(T* out, T* mask, const T* x, int64_t n, double keep_below, T scale, uint64_t seed,
                                uint64_t offset) {
  constexpr int64_t per_block = sizeof(T) == 4 ? 4 : 2;
  const int64_t blocks = (n + per_block - 1) / per_block;
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < blocks; b += int64_t(gridDim.x) * blockDim.x) {
    const Words w = philox_block_device(seed, offset + uint64_t(b));
    for (int lane = 0; lane < per_block; ++lane) {
      const int64_t i = b * per_block + lane;
      if (i >= n) break;
      const T m = uniform_of(w, lane, T(0)) < keep_below ? scale : T(0);
      mask[i] = m;
      out[i] = x[i] * m;
    }
  }
}

void dropout_cuda(const Tensor& out, const Tensor& mask, const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  const int64_t n = x.numel();
  if (n == 0) return;
  KILN_CUDA_CHECK(cudaSetDevice(x.device().index));
  dispatch_floating(x.dtype(), "dropout", [&]<typename T>() {
    const int64_t per_block = sizeof(T) == 4 ? 4 : 2;
    const auto cfg = cuda::launch_config_1d((n + per_block - 1) / per_block);
    dropout_kernel1<T><<<cfg.blocks, cfg.threads, 0, cuda::stream_for(x.device().index)>>>(
        out.data_ptr<T>(), mask.data_ptr<T>(), x.data_ptr<T>(), n, 1.0 - p, T(1.0 / (1.0 - p)), seed, offset);
  });
  cuda::check_launch("dropout (cuda)");
}

}  // namespace

KILN_REGISTER_KERNEL(dropout_stub, DeviceType::CUDA, dropout_cuda);

}  // namespace kiln
