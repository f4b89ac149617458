// The caching allocators' bookkeeping (size classes, free lists, statistics, the
// out-of-memory retry, the host blocks' events). See Note [CUDA caching allocator] and
// Note [CUDA caching host allocator] in cuda/allocator.h; the instances over cudaMalloc
// and cudaHostAlloc live in cuda/runtime.cpp.
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

// ---- pinned host memory ----

CachingHostAllocator::~CachingHostAllocator() {
  // Blocks still pending or in use belong to copies or tensors that outlive the
  // allocator (at process exit); the driver reclaims them.
  std::lock_guard<std::mutex> lock(mutex_);
  release_free();
}

void CachingHostAllocator::collect_completed() {
  size_t kept = 0;
  for (void* ptr : pending_) {
    Block& b = blocks_.at(ptr);
    size_t waiting = 0;
    for (void* event : b.events) {
      if (raw_.event_completed(event)) {
        raw_.destroy_event(event);
      } else {
        b.events[waiting++] = event;
      }
    }
    b.events.resize(waiting);
    if (waiting == 0) {
      free_blocks_.emplace(b.size, ptr);
    } else {
      pending_[kept++] = ptr;
    }
  }
  pending_.resize(kept);
}

void CachingHostAllocator::release_free() {
  for (const auto& [size, ptr] : free_blocks_) {
    raw_.release(ptr, size);
    blocks_.erase(ptr);
    stats_.reserved -= size;
    ++stats_.num_frees;
  }
  free_blocks_.clear();
}

void* CachingHostAllocator::allocate(size_t nbytes) {
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  collect_completed();
  void* ptr = nullptr;
  auto it = free_blocks_.find(size);
  if (it != free_blocks_.end()) {
    ptr = it->second;
    free_blocks_.erase(it);
    ++stats_.num_cache_hits;
  } else {
    ++stats_.num_mallocs;
    ptr = raw_.allocate(size);
    if (ptr == nullptr && !free_blocks_.empty()) {
      release_free();  // out of page-locked memory: give back the unused classes, retry once
      ++stats_.num_mallocs;
      ptr = raw_.allocate(size);
    }
    KILN_CHECK(ptr != nullptr, "cuda host allocator: out of pinned memory allocating ", nbytes, " bytes (size class ",
               size, "); allocated ", stats_.allocated, " bytes, reserved ", stats_.reserved, " bytes, ",
               pending_.size(), " freed blocks waiting for their copies");
    blocks_[ptr] = Block{size, false, {}};
    stats_.reserved += size;
  }
  blocks_.at(ptr).in_use = true;
  stats_.allocated += size;
  if (stats_.allocated > stats_.peak_allocated) stats_.peak_allocated = stats_.allocated;
  return ptr;
}

void CachingHostAllocator::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(ptr);
  KILN_CHECK(it != blocks_.end() && it->second.in_use, "cuda host allocator: freeing ", ptr,
             ", which is not an allocated pinned block");
  Block& b = it->second;
  b.in_use = false;
  stats_.allocated -= b.size;
  if (b.events.empty()) {
    free_blocks_.emplace(b.size, ptr);
  } else {
    pending_.push_back(ptr);
  }
}

void CachingHostAllocator::record_use(void* ptr, int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(ptr);
  KILN_CHECK(it != blocks_.end() && it->second.in_use, "cuda host allocator: ", ptr,
             " is not an allocated pinned block");
  it->second.events.push_back(raw_.record_event(device));
}

void CachingHostAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  collect_completed();
  release_free();
}

AllocatorStats CachingHostAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingHostAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated = stats_.allocated;
}

size_t CachingHostAllocator::pending_blocks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.size();
}

}  // namespace kiln::cuda
