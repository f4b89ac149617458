// The CUDA DeviceBackend: allocation through the caching allocator (cuda/allocator.h)
// over cudaMalloc, copies queued on each device's kiln stream (Note [CUDA streams]),
// pinned host memory through the caching host allocator over cudaHostAlloc and the
// asynchronous copies it allows; registered for DeviceType::CUDA at start-up, so cuda:N
// tensors work wherever a device exists. Also the streams themselves, synchronize and
// the launch arithmetic declared in cuda/runtime.h.
#include "cuda/runtime.h"

#include "core/storage.h"
#include "cuda/allocator.h"
#include "cuda/per_device.h"

namespace kiln::cuda {

namespace {

struct DeviceProbe {
  int count = 0;
  cudaError_t status = cudaSuccess;
  DeviceProbe() {
    status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      count = 0;
      cudaGetLastError();  // clear the sticky error so later calls report their own
    }
  }
};

const DeviceProbe& probe() {
  static DeviceProbe p;
  return p;
}

// kiln's stream of `device` (Note [CUDA streams]); the caller's current device is left
// as it was.
cudaStream_t create_stream(int device) {
  // Checked here, so that a bad index is not left behind as CUDA's last error.
  KILN_CHECK(device < probe().count, "cuda: device cuda:", device, " is not available (", probe().count,
             " CUDA device(s) found)");
  int previous = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&previous));
  KILN_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t stream = nullptr;
  const cudaError_t status = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cudaSetDevice(previous);
  if (status != cudaSuccess) cudaGetLastError();  // clear it, so the next check_launch reports its own
  KILN_CUDA_CHECK(status);
  return stream;
}

// cudaMalloc/cudaFree beneath the caching allocator.
struct CudaRawAllocator final : RawAllocator {
  void* allocate(size_t nbytes, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, nbytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it: the allocator frees its cache and retries
      return nullptr;
    }
    KILN_CUDA_CHECK(status);
    return p;
  }
  void release(void* ptr, size_t, int device) override {
    // No throw from a destructor path; a failure here means the context is gone.
    cudaSetDevice(device);
    // Work queued on kiln's stream before the block was cached may still use it, and
    // cudaFree is not stream-ordered: wait for the device explicitly rather than rely
    // on cudaFree's implicit synchronisation (release is rare: empty_cache, the
    // out-of-memory retry).
    cudaDeviceSynchronize();
    cudaFree(ptr);
  }
};

// cudaHostAlloc/cudaFreeHost and events beneath the caching host allocator.
struct CudaRawHostAllocator final : RawHostAllocator {
  void* allocate(size_t nbytes) override {
    void* p = nullptr;
    cudaError_t status = cudaHostAlloc(&p, nbytes, cudaHostAllocDefault);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it: the allocator frees its cache and retries
      return nullptr;
    }
    KILN_CUDA_CHECK(status);
    return p;
  }
  void release(void* ptr, size_t) override { cudaFreeHost(ptr); }
  void* record_event(int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    cudaEvent_t event = nullptr;
    KILN_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    KILN_CUDA_CHECK(cudaEventRecord(event, stream_for(device)));
    return event;
  }
  bool event_completed(void* event) override {
    cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event));
    if (status == cudaErrorNotReady) return false;
    KILN_CUDA_CHECK(status);
    return true;
  }
  void destroy_event(void* event) override { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
};

struct CudaBackend final : DeviceBackend {
  void* allocate(size_t nbytes, int device) override { return device_allocator().allocate(nbytes, device); }
  void deallocate(void* ptr, size_t nbytes, int device) override {
    device_allocator().deallocate(ptr, nbytes, device);
  }
  // The blocking copies are queued on kiln's stream, after every kernel that writes the
  // source, then waited for (Note [CUDA streams]): the host reads dst next (to host),
  // or may overwrite or free src as soon as this returns (from host: a pinned src is
  // read by DMA after cudaMemcpyAsync returns, a pageable one is staged before).
  void copy_to_host(void* dst, const void* src, size_t n, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    const cudaStream_t stream = stream_for(device);
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream));
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  void copy_from_host(void* dst, const void* src, size_t n, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    const cudaStream_t stream = stream_for(device);
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream));
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  // Both ends on the device: ordered by the stream with whatever reads or writes them,
  // so no wait.
  void copy_within(void* dst, const void* src, size_t n, int device) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream_for(device)));
  }
  int device_count() override { return probe().count; }
  void synchronize(int device) override { cuda::synchronize(device); }
  void* allocate_pinned(size_t nbytes) override { return host_allocator().allocate(nbytes); }
  void deallocate_pinned(void* ptr, size_t) override { host_allocator().deallocate(ptr); }
  // See Note [Pinned memory and non_blocking copies] in core/storage.h: the event is
  // recorded after the copy, so the block stays out of the cache until it has run.
  void copy_to_host_async(void* dst, const void* src, size_t n, int device, void* pinned_block) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_for(device)));
    host_allocator().record_use(pinned_block, device);
  }
  void copy_from_host_async(void* dst, const void* src, size_t n, int device, void* pinned_block) override {
    KILN_CUDA_CHECK(cudaSetDevice(device));
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_for(device)));
    host_allocator().record_use(pinned_block, device);
  }
};

// Never destroyed, like the CPU backend (see the note in core/storage.cpp).
[[maybe_unused]] const bool registered = (register_backend(DeviceType::CUDA, new CudaBackend), true);

}  // namespace

// Never destroyed, like the backend: tensors freed during static destruction still
// return their blocks to it.
CachingAllocator& device_allocator() {
  static CachingAllocator* allocator = new CachingAllocator(*new CudaRawAllocator);
  return *allocator;
}

AllocatorStats memory_stats(int device) { return device_allocator().stats(device); }

void empty_cache() { device_allocator().empty_cache(); }

CachingHostAllocator& host_allocator() {
  static CachingHostAllocator* allocator = new CachingHostAllocator(*new CudaRawHostAllocator);
  return *allocator;
}

AllocatorStats host_memory_stats() { return host_allocator().stats(); }

void empty_host_cache() { host_allocator().empty_cache(); }

cudaStream_t stream_for(int device) {
  static PerDevice<cudaStream_t>* streams = new PerDevice<cudaStream_t>(create_stream);  // never destroyed
  return streams->get(device);
}

// Device-wide, not just kiln's stream: see the end of Note [CUDA streams].
void synchronize(int device) {
  KILN_CUDA_CHECK(cudaSetDevice(device));
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
}

void check_launch(const char* kernel) {
  cudaError_t status = cudaGetLastError();
  KILN_CHECK(status == cudaSuccess, kernel, ": CUDA kernel launch failed: ", cudaGetErrorString(status), " (",
             cudaGetErrorName(status), ")");
}

int device_count() { return probe().count; }

const char* unavailable_reason() {
  if (probe().count > 0) return "";
  return probe().status == cudaSuccess ? "no CUDA device found" : cudaGetErrorString(probe().status);
}

LaunchConfig launch_config_1d(int64_t n, unsigned threads, unsigned max_blocks) {
  if (n <= 0) return {1, threads};
  int64_t blocks = (n + threads - 1) / threads;
  return {unsigned(blocks < int64_t(max_blocks) ? blocks : max_blocks), threads};
}

ReduceLaunch launch_config_reduce(int64_t outer, int64_t reduced, int64_t inner) {
  constexpr int64_t kMaxBlocks = 65535 * 16;
  const int64_t n_out = outer * inner;
  if (n_out <= 0) return {false, 1, 256};
  // Long contiguous rows, or so few outputs that a thread each would leave the GPU idle.
  if (reduced >= 64 && (inner == 1 || n_out < 1024)) {
    unsigned threads = 64;
    while (threads < 256 && int64_t(threads) < reduced) threads *= 2;
    return {true, unsigned(n_out < kMaxBlocks ? n_out : kMaxBlocks), threads};
  }
  int64_t blocks = (n_out + 255) / 256;
  return {false, unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks), 256};
}

}  // namespace kiln::cuda
