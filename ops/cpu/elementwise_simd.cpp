// Chooses the SIMD elementwise kernels of the active ISA (ops/cpu/elementwise_simd.h) and
// decides when their outputs are streamed past the cache.
#include "ops/cpu/elementwise_simd.h"

#include "ops/cpu/cpu_features.h"

namespace kiln::cpu {

// Streaming stores pay once the output cannot stay in the last-level cache anyway (a few
// MiB per core on current x86 parts); below that the next op would find it in cache.
// Measured on 16M floats, one thread, AVX-512 kernels, paired runs: relu 1.04 -> 1.47
// times the copy bandwidth, add 1.17 -> 1.72 times the triad bandwidth (plain stores,
// as in copy and triad themselves, first read every output line they write).
constexpr int64_t kStreamingBytes = int64_t(32) << 20;

bool use_streaming_stores(int64_t bytes) { return bytes >= kStreamingBytes; }

const SimdElementwise* simd_elementwise() {
  switch (active_isa()) {
    case CpuIsa::Avx512: return &simd_elementwise_avx512();
    case CpuIsa::Avx2: return &simd_elementwise_avx2();
    case CpuIsa::Generic: break;
  }
  return nullptr;
}

}  // namespace kiln::cpu
