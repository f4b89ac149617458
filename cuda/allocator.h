// The CUDA caching allocators: freed device blocks are kept in per-device free lists,
// keyed by size class, and handed out again instead of calling cudaMalloc/cudaFree; the
// host allocator does the same for pinned host memory (cudaHostAlloc), with events.
// Pure C++ (no CUDA headers): the raw allocators beneath them are interfaces, so the
// bookkeeping is tested on the CPU with fakes (tests/cuda/allocator_test.cpp,
// tests/cuda/host_allocator_test.cpp). See Note [CUDA caching allocator] and Note [CUDA
// caching host allocator]; cuda/runtime.cpp plugs them into the CUDA backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace kiln::cuda {

// Note [CUDA caching allocator]
// cudaMalloc and cudaFree are slow (cudaFree also synchronises the device), and a
// training step allocates the same sizes every iteration. So:
//   - every request is rounded up to a size class: a multiple of 512 B below 1 MiB,
//     a multiple of 2 MiB from 1 MiB up (round_size);
//   - a freed block goes to its device's free list for its size class, and the next
//     request of that class takes it back (exact class match; blocks are never split
//     or merged, which keeps the bookkeeping to one map per device);
//   - when the raw allocator reports out-of-memory, the cache of that device is
//     returned to the driver and the request retried once; a second failure is an
//     error naming the requested size and the device's statistics.
// Reusing a block is safe without events because all of kiln's GPU work on a device
// (kernels, copies, memsets, cuBLAS and cuDNN calls) is queued on one stream, kiln's
// non-blocking stream of that device (see Note [CUDA streams] in cuda/runtime.h): a
// tensor is freed on the host once the last work using it is queued, the next owner
// of the block can only queue its work after that, on the same stream, so the stream
// runs the old user's work to completion before the new user's starts. This holds for
// any number of host threads, since they all queue on the one stream. It would NOT
// hold for a block used on another stream (a second kiln stream, or a user's stream
// reading a kiln tensor): that use would need an event recorded on its stream and
// waited for before the block went back to the cache (PyTorch's record_stream), which
// kiln does not have; see the rules in Note [CUDA streams]. Returning blocks to the
// driver (empty_cache, the out-of-memory retry) waits for the device first, since
// cudaFree is not ordered with the stream.

// The raw device allocator beneath the cache (cudaMalloc/cudaFree on a GPU, a counting
// fake in the tests). allocate returns nullptr when the device is out of memory and throws
// kiln::Error for any other failure; release must not throw.
struct RawAllocator {
  virtual ~RawAllocator() = default;
  virtual void* allocate(size_t nbytes, int device) = 0;
  virtual void release(void* ptr, size_t nbytes, int device) = 0;
};

// Statistics of one device, in bytes (sizes as rounded) and calls.
struct AllocatorStats {
  size_t allocated = 0;       // in blocks handed out and not yet freed
  size_t reserved = 0;        // obtained from the raw allocator: allocated + cached
  size_t peak_allocated = 0;  // the highest `allocated` since start (or reset_peak)
  int64_t num_mallocs = 0;    // calls to the raw allocator's allocate (failed ones included)
  int64_t num_frees = 0;      // calls to the raw allocator's release
  int64_t num_cache_hits = 0; // requests served from the free lists
};

constexpr size_t kSmallSizeUnit = 512;                  // granularity below kLargeSize
constexpr size_t kLargeSize = size_t(1) << 20;          // 1 MiB
constexpr size_t kLargeSizeUnit = size_t(2) << 20;      // 2 MiB granularity from 1 MiB up

// The size class of a request: 512 B granularity below 1 MiB, 2 MiB above; 0 -> 512.
size_t round_size(size_t nbytes);

class CachingAllocator {
 public:
  explicit CachingAllocator(RawAllocator& raw) : raw_(raw) {}
  ~CachingAllocator();  // returns every cached block to the raw allocator
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least nbytes on `device` (never nullptr; nbytes == 0 still gets a
  // block of the smallest class, so every tensor has a distinct address).
  void* allocate(size_t nbytes, int device);
  // Returns a block from allocate(nbytes, device) to the cache; nullptr is ignored.
  void deallocate(void* ptr, size_t nbytes, int device);
  // Returns every cached (free) block of every device to the raw allocator.
  void empty_cache();
  AllocatorStats stats(int device) const;
  void reset_peak(int device);

 private:
  struct DeviceCache {
    std::multimap<size_t, void*> free_blocks;  // size class -> free block
    AllocatorStats stats;
  };
  DeviceCache& cache_of(int device);  // caller holds mutex_
  void release_cached(DeviceCache& cache, int device);  // caller holds mutex_

  RawAllocator& raw_;
  mutable std::mutex mutex_;
  std::vector<DeviceCache> devices_;
};

// Note [CUDA caching host allocator]
// Pinned host memory (Tensor::pin_memory, the result of a non_blocking device-to-host
// copy; see Note [Pinned memory and non_blocking copies] in core/storage.h) comes from
// cudaHostAlloc, which is slower still than cudaMalloc (it page-locks every page), so
// freed blocks are cached by size class (round_size) like device blocks. One rule makes
// the host cache different: a copy queued with cudaMemcpyAsync on kiln's stream of the
// device (Note [CUDA streams]) reads or writes the block after the host has moved on,
// and the host may free the tensor before the copy has run. The stream cannot order
// this (the host is the other party), so every queued copy records an event on that
// stream for the block (record_use, after the copy is queued; an event completes when
// the work queued before it has), and a freed block whose events have not all
// completed waits in a pending list; allocate() first moves the pending blocks whose
// events have completed to the free lists. A block is never handed out while a copy on
// it may still run. This is what PyTorch's CachingHostAllocator does.

// The raw calls beneath the host cache (cudaHostAlloc/cudaFreeHost and cudaEvent* on a
// GPU, a fake in the tests). allocate returns nullptr when out of memory and throws
// kiln::Error for any other failure; release and destroy_event must not throw.
struct RawHostAllocator {
  virtual ~RawHostAllocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void release(void* ptr, size_t nbytes) = 0;
  // An event recorded on kiln's stream of `device` (stream_for) after the work queued
  // on it so far.
  virtual void* record_event(int device) = 0;
  // Whether the work queued before the event has completed.
  virtual bool event_completed(void* event) = 0;
  virtual void destroy_event(void* event) = 0;
};

class CachingHostAllocator {
 public:
  explicit CachingHostAllocator(RawHostAllocator& raw) : raw_(raw) {}
  ~CachingHostAllocator();  // returns every free block to the raw allocator
  CachingHostAllocator(const CachingHostAllocator&) = delete;
  CachingHostAllocator& operator=(const CachingHostAllocator&) = delete;

  // A pinned block of at least nbytes (never nullptr; 0 bytes get the smallest class).
  void* allocate(size_t nbytes);
  // Returns a block from allocate() to the cache (pending until its events complete);
  // nullptr is ignored.
  void deallocate(void* ptr);
  // Records that work queued on `device` up to now uses the block `ptr` (a pointer
  // returned by allocate and not yet freed).
  void record_use(void* ptr, int device);
  // Returns the free blocks, and the pending ones whose events have completed, to the
  // raw allocator; blocks still waiting for a copy stay.
  void empty_cache();
  // In-use blocks count as allocated until deallocate, pending ones as reserved only.
  AllocatorStats stats() const;
  void reset_peak();
  size_t pending_blocks() const;  // freed, waiting for their events

 private:
  struct Block {
    size_t size = 0;
    bool in_use = false;
    std::vector<void*> events;  // recorded by record_use, destroyed once completed
  };
  void collect_completed();                // caller holds mutex_
  void release_free();                     // caller holds mutex_

  RawHostAllocator& raw_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, Block> blocks_;   // every block obtained from raw_
  std::multimap<size_t, void*> free_blocks_;  // size class -> free block
  std::vector<void*> pending_;                // freed blocks with events outstanding
  AllocatorStats stats_;
};

// The allocator behind every cuda:N tensor, and its statistics (defined in
// cuda/runtime.cpp, with the cudaMalloc raw allocator).
CachingAllocator& device_allocator();
AllocatorStats memory_stats(int device = 0);
// Frees the cached blocks of every device, as torch.cuda.empty_cache().
void empty_cache();

// The allocator behind every pinned CPU tensor (cudaHostAlloc beneath it), its
// statistics (as torch.cuda.host_memory_stats()) and its cache release.
CachingHostAllocator& host_allocator();
AllocatorStats host_memory_stats();
void empty_host_cache();

}  // namespace kiln::cuda
