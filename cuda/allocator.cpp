// The caching allocator's bookkeeping (size classes, free lists, statistics, the
// out-of-memory retry). See Note [CUDA caching allocator] in cuda/allocator.h; the
// cudaMalloc-backed instance lives in cuda/runtime.cpp.
#include "cuda/allocator.h"

#include "core/error.h"

namespace kiln::cuda {

size_t round_size(size_t nbytes) {
  if (nbytes < kLargeSize) {
    size_t units = (nbytes + kSmallSizeUnit - 1) / kSmallSizeUnit;
    return (units > 0 ? units : 1) * kSmallSizeUnit;
  }
  return (nbytes + kLargeSizeUnit - 1) / kLargeSizeUnit * kLargeSizeUnit;
}

CachingAllocator::~CachingAllocator() { empty_cache(); }

CachingAllocator::DeviceCache& CachingAllocator::cache_of(int device) {
  KILN_CHECK(device >= 0, "cuda allocator: expected a device index >= 0, got ", device);
  if (size_t(device) >= devices_.size()) devices_.resize(size_t(device) + 1);
  return devices_[size_t(device)];
}

void CachingAllocator::release_cached(DeviceCache& cache, int device) {
  for (const auto& [size, ptr] : cache.free_blocks) {
    raw_.release(ptr, size, device);
    cache.stats.reserved -= size;
    ++cache.stats.num_frees;
  }
  cache.free_blocks.clear();
}

void* CachingAllocator::allocate(size_t nbytes, int device) {
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceCache& cache = cache_of(device);
  AllocatorStats& s = cache.stats;
  void* ptr = nullptr;
  auto it = cache.free_blocks.find(size);
  if (it != cache.free_blocks.end()) {
    ptr = it->second;
    cache.free_blocks.erase(it);
    ++s.num_cache_hits;
  } else {
    ++s.num_mallocs;
    ptr = raw_.allocate(size, device);
    if (ptr == nullptr && !cache.free_blocks.empty()) {
      // Out of memory while blocks of other classes sit unused: hand them back, retry once.
      release_cached(cache, device);
      ++s.num_mallocs;
      ptr = raw_.allocate(size, device);
    }
    KILN_CHECK(ptr != nullptr, "cuda allocator: out of memory allocating ", nbytes, " bytes (size class ", size,
               ") on cuda:", device, "; allocated ", s.allocated, " bytes, reserved ", s.reserved,
               " bytes, peak allocated ", s.peak_allocated, " bytes, ", s.num_mallocs, " device mallocs, ",
               s.num_frees, " device frees");
    s.reserved += size;
  }
  s.allocated += size;
  if (s.allocated > s.peak_allocated) s.peak_allocated = s.allocated;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes, int device) {
  if (ptr == nullptr) return;
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceCache& cache = cache_of(device);
  cache.free_blocks.emplace(size, ptr);
  cache.stats.allocated -= size;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t d = 0; d < devices_.size(); ++d) release_cached(devices_[d], int(d));
}

AllocatorStats CachingAllocator::stats(int device) const {
  std::lock_guard<std::mutex> lock(mutex_);
  KILN_CHECK(device >= 0, "cuda allocator: expected a device index >= 0, got ", device);
  return size_t(device) < devices_.size() ? devices_[size_t(device)].stats : AllocatorStats{};
}

void CachingAllocator::reset_peak(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  AllocatorStats& s = cache_of(device).stats;
  s.peak_allocated = s.allocated;
}

}  // namespace kiln::cuda
