// The CUDA runtime side of kiln: error checking for every CUDA call and device
// queries. The backend itself (allocation, copies) is registered in cuda/runtime.cpp.
#pragma once

#include <cuda_runtime.h>

#include "core/error.h"

// Checks a CUDA runtime call; the error names the call, CUDA's message and file:line.
#define KILN_CUDA_CHECK(call)                                                                 \
  do {                                                                                        \
    cudaError_t kiln_cuda_status = (call);                                                    \
    KILN_CHECK(kiln_cuda_status == cudaSuccess, "CUDA error in ", #call, ": ",                \
               cudaGetErrorString(kiln_cuda_status), " (", cudaGetErrorName(kiln_cuda_status), ")"); \
  } while (0)

namespace kiln::cuda {

// Number of usable CUDA devices; 0 (not an error) when there is no device or driver.
int device_count();
// Why there is no device ("no CUDA-capable device is detected", ...), for skip messages.
const char* unavailable_reason();

// Launch-configuration arithmetic: blocks of `threads` covering n elements, capped so
// that the grid stays within the device limit (kernels then loop grid-stride).
struct LaunchConfig {
  unsigned blocks;
  unsigned threads;
};
LaunchConfig launch_config_1d(int64_t n, unsigned threads = 256, unsigned max_blocks = 65535u * 16);

}  // namespace kiln::cuda
