// The CUDA caching allocator: freed device blocks are kept in per-device free lists,
// keyed by size class, and handed out again instead of calling cudaMalloc/cudaFree.
// Pure C++ (no CUDA headers): the raw allocator beneath it is an interface, so the
// bookkeeping is tested on the CPU with a fake (tests/cuda/allocator_test.cpp).
// See Note [CUDA caching allocator]; cuda/runtime.cpp plugs it into the CUDA backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
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
// Reusing a block is safe without events because every kernel and copy of a device
// runs on one stream (see Note [CUDA streams] in cuda/runtime.h): work that used the
// block before it was freed is ordered before work that uses it after.

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

// The allocator behind every cuda:N tensor, and its statistics (defined in
// cuda/runtime.cpp, with the cudaMalloc raw allocator).
CachingAllocator& device_allocator();
AllocatorStats memory_stats(int device = 0);
// Frees the cached blocks of every device, as torch.cuda.empty_cache().
void empty_cache();

}  // namespace kiln::cuda
