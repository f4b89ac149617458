// Storage: one reference-counted buffer on a device, shared by a tensor and all its
// views; it also carries the version counter (see Note [Version counter]) and whether it
// is page-locked host memory (see Note [Pinned memory and non_blocking copies]).
// DeviceBackend: the per-device allocator and copy routines (CPU here, CUDA in cuda/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace kiln {

// One per device type, registered at start-up (cuda/ registers the CUDA one).
struct DeviceBackend {
  virtual ~DeviceBackend() = default;
  virtual void* allocate(size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* ptr, size_t nbytes, int device_index) = 0;
  // Copies nbytes between this device and the host, or within this device.
  virtual void copy_to_host(void* dst, const void* src, size_t nbytes, int device_index) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t nbytes, int device_index) = 0;
  virtual void copy_within(void* dst, const void* src, size_t nbytes, int device_index) = 0;
  virtual int device_count() = 0;
  virtual void synchronize(int device_index) = 0;

  // Page-locked host memory and asynchronous copies, which only a GPU backend has (the
  // defaults throw). See Note [Pinned memory and non_blocking copies].
  virtual void* allocate_pinned(size_t nbytes);
  virtual void deallocate_pinned(void* ptr, size_t nbytes);
  // Queue the copy on the device's stream and return at once. `pinned_block` is the
  // pinned host block (its base address) that the host side lies in: the backend records
  // the copy on it so the block is not handed out again before the copy has completed.
  virtual void copy_to_host_async(void* dst, const void* src, size_t nbytes, int device_index, void* pinned_block);
  virtual void copy_from_host_async(void* dst, const void* src, size_t nbytes, int device_index,
                                    void* pinned_block);
};

// Installs the backend for a device type and returns the previous one (nullptr if none).
DeviceBackend* register_backend(DeviceType type, DeviceBackend* backend);
// Throws a clear error when the device type has no backend (a build without CUDA) or
// the index is out of range.
DeviceBackend& backend_for(Device device, const char* op);
bool backend_available(DeviceType type);
// Waits until every kernel and copy queued on `device` has finished (a no-op for the
// CPU); as torch.cuda.synchronize(device).
void synchronize(Device device);

// Note [Pinned memory and non_blocking copies]
// Tensor::pin_memory() copies a CPU tensor into page-locked ("pinned") host memory from
// the GPU backend's caching host allocator (cudaHostAlloc; cuda/allocator.h). The
// tensor is still a CPU tensor (device() is cpu, every CPU op works on it); only its
// storage is pinned, and views share that. Pinned memory is what lets a copy between
// host and device run asynchronously, by DMA, while the host goes on:
//   - to(cuda, non_blocking=true) from a pinned, contiguous CPU tensor queues the copy
//     (cudaMemcpyAsync) on kiln's stream of the target device (Note [CUDA streams] in
//     cuda/runtime.h) and returns at once. Every kiln kernel on that device is queued
//     on the same stream after it and so sees the copied data: the result can be used
//     right away by kiln ops. The host must not write to the pinned source until the
//     copy has completed (synchronize(), or a later blocking copy from the device,
//     which waits for the stream).
//   - to(cpu, non_blocking=true) from a CUDA tensor returns a tensor in new pinned
//     memory whose contents are NOT there yet: call synchronize(device) before reading
//     it on the host (item(), to_vector(), printing, any CPU op), as in PyTorch.
//   - Anywhere else (a pageable or non-contiguous host side, CPU to CPU, a source that
//     requires grad while grad mode is on) non_blocking is ignored: the copy is the
//     ordinary synchronous one, as PyTorch falls back to. A synchronous copy is queued
//     on the same stream and then waited for (cudaStreamSynchronize), so it returns
//     with the data in place and the host buffer free to reuse.
// Freeing a pinned tensor while its copy is still queued is safe: the allocator records
// an event on the stream after each queued copy, and a freed block is not handed out
// again until its events have completed (as PyTorch's caching host allocator does;
// Note [CUDA caching host allocator] in cuda/allocator.h). Pinning costs a
// copy and page-locked memory is a scarce resource of the OS: pin the buffers that are
// copied repeatedly (a data loader's batches), not everything.

// Note [Version counter]
// Every in-place write to a tensor bumps the version of its storage. Views share the
// storage, so they share the counter: writing through a view is seen by the base and
// vice versa. Autograd records the version of each tensor it saves for backward and
// refuses to run backward when the version has moved (see autograd/function.h).
class StorageImpl {
 public:
  // pinned: page-locked host memory from the GPU backend (device must be the CPU).
  StorageImpl(size_t nbytes, Device device, bool pinned = false);
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool is_pinned() const { return pinned_backend_ != nullptr; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  DeviceBackend* pinned_backend_ = nullptr;  // the backend that allocated pinned memory
  uint64_t version_ = 0;
};

using Storage = std::shared_ptr<StorageImpl>;

Storage make_storage(size_t nbytes, Device device, bool pinned = false);

// Copies nbytes between any two devices (through the host when neither is the CPU).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace kiln
