// The CUDA runtime side of kiln: error checking for every CUDA call, device queries,
// the stream of each device that all of kiln's GPU work is queued on (Note [CUDA
// streams]) and launch arithmetic. The backend itself (caching allocator, copies) is
// registered in cuda/runtime.cpp.
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
// Everything kiln queues on device d (kernels, copies, memsets, cuBLAS and cuDNN calls,
// the pinned host allocator's events) goes to one stream, stream_for(d): created at
// the first use on d with cudaStreamNonBlocking, shared by every thread, never
// destroyed (PerDevice in cuda/per_device.h).
// Why not the legacy default stream (stream 0): it synchronises implicitly with every
// other blocking stream of the device, so kiln's work would serialise with that of any
// other library or user stream in the process, and theirs with kiln's. A non-blocking
// stream orders only what is queued on it. Why one stream per device, not several: one
// stream is a total order of all of kiln's work on the device, which is what keeps the
// rest simple and correct without events:
//   - a kernel sees the results of every kernel and copy queued before it;
//   - the caching allocator hands a freed block to the next tensor at once (Note [CUDA
//     caching allocator]): whatever used the block is ahead of the new user on the
//     same stream; so a scratch buffer (a cuDNN workspace, a contiguous() temporary)
//     may be freed as soon as the call that uses it is queued;
//   - a non_blocking copy from pinned memory is a cudaMemcpyAsync on this stream, so
//     the kernels queued after it see its data (Note [Pinned memory and non_blocking
//     copies] in core/storage.h). The overlap it buys is of the host with the device
//     (the host prepares the next batch while the GPU copies and computes), not of
//     copies with kernels on the GPU.
// Rules for anyone adding GPU work (each after cudaSetDevice(d)):
//   - launch kernels as k<<<grid, block, shared_bytes, stream_for(d)>>>. Never the
//     two- or three-argument form: that is the legacy stream, which is NOT ordered with
//     a non-blocking stream, so the kernel could run before its inputs are written or
//     after its output was read.
//   - copies and memsets: cudaMemcpyAsync / cudaMemsetAsync on stream_for(d), never
//     cudaMemcpy / cudaMemset (the legacy stream again). Before the host reads the
//     destination of a copy to the host, or reuses or frees the host buffer of a copy
//     from it, cudaStreamSynchronize(stream_for(d)): DeviceBackend::copy_to_host and
//     copy_from_host (cuda/runtime.cpp) do, so a blocking copy returns with the data in
//     place, as PyTorch's does. Device-to-device copies on one device need no wait.
//   - libraries: cuBLAS and cuDNN calls take the per-device handles bound to
//     stream_for(d) (handle_for in cuda/linalg.cu, cudnn_handle in cuda/cudnn.h); a new
//     handle gets cublasSetStream / cudnnSetStream likewise. Any other library that
//     launches work (cub, thrust, cuRAND, NCCL) must be given stream_for(d)
//     explicitly (cub's stream argument, thrust::cuda::par.on(s), curandSetStream);
//     their default is stream 0.
//   - events (timers, the pinned host allocator) are recorded on stream_for(d).
//   - across devices: the streams of two devices have no order between them.
//     copy_bytes (core/storage.cpp) moves bytes between devices through the host with
//     a synchronised copy out and a synchronised copy in, which orders both sides. A
//     direct peer copy (cudaMemcpyPeerAsync) would have to be queued on one device's
//     stream after the other's pending work on the block (an event recorded on the
//     source's stream and waited for with cudaStreamWaitEvent, or a synchronise), and
//     the source block kept alive until the copy has run.
//   - the host reads device memory only through a synchronising copy or after
//     synchronize(d); code outside kiln that touches kiln tensors on its own stream
//     orders itself with stream_for(d) in the same way.
// synchronize(d) is device-wide (cudaDeviceSynchronize), as torch.cuda.synchronize: it
// is the user's barrier, so it waits for work on every stream of the device (a user's
// own kernels too) and reports an asynchronous failure from any of them. kiln's own
// waits (a copy to the host) synchronise only its stream, so they do not wait for
// unrelated work.

// The stream every kernel, copy and library call of kiln on `device` is queued on:
// created (non-blocking) at the first call for that device, the same for every later
// call from any thread. Throws a kiln::Error for an invalid device or when the stream
// cannot be created.
cudaStream_t stream_for(int device);
// Waits until every kernel and copy queued on `device`, on any stream, has finished;
// reports a kernel failure (an illegal address, ...) as a kiln::Error.
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
