// The CUDA runtime side of kiln: error checking for every CUDA call, device queries,
// the stream every kernel runs on (Note [CUDA streams]) and launch arithmetic. The
// backend itself (caching allocator, copies) is registered in cuda/runtime.cpp.
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

// Note [CUDA streams]
// Every kernel, copy, cuBLAS and cuDNN call of kiln runs on the legacy default stream
// (stream 0) of the current device. The backend's copies are plain cudaMemcpy calls
// (except the non_blocking ones from or to pinned memory: cudaMemcpyAsync on this
// stream, see Note [Pinned memory and non_blocking copies] in core/storage.h), which are
// ordered after all earlier work on that stream, so a host read after a copy sees
// every kernel that came before it, and the caching allocator can hand a freed block
// to the next tensor without events (see Note [CUDA caching allocator]). A
// cudaStreamNonBlocking stream per device would let kiln overlap with other libraries'
// streams, but every copy would then need cudaMemcpyAsync plus a stream synchronise,
// and every cross-stream use an event; with one stream there is nothing to get wrong.
// Kernels are launched asynchronously; synchronize() waits for them.

// The stream kernels of `device` are launched on (the legacy default stream).
inline cudaStream_t stream_for(int /*device*/) { return cudaStream_t(0); }
// Waits until every kernel and copy queued on `device` has finished; reports a kernel
// failure (an illegal address, ...) as a kiln::Error.
void synchronize(int device = 0);
// Checks that the last kernel launch was accepted (bad configuration, no kernel image
// for this GPU); errors during execution surface at the next synchronising call.
void check_launch(const char* kernel);

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

// How a reduction over x: (outer, reduced, inner) -> (outer, inner) is launched
// (cuda/reduce.cu): a block of `threads` per output when the rows are long (contiguous
// rows, or few outputs with a long strided reduction), otherwise a thread per output
// walking the reduced dim (neighbouring threads read neighbouring columns). `blocks`
// is capped: kernels loop grid-stride over the outputs.
struct ReduceLaunch {
  bool block_per_output;
  unsigned blocks;
  unsigned threads;  // a multiple of 32
};
ReduceLaunch launch_config_reduce(int64_t outer, int64_t reduced, int64_t inner);

}  // namespace kiln::cuda
