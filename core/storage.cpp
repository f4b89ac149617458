// The CPU backend (64-byte aligned allocations with a cache for large blocks, memcpy),
// the backend registry, and storages in pinned host memory (allocated by the GPU backend).
#include "core/storage.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "core/error.h"

namespace kiln {

namespace {

constexpr size_t kCpuAlignment = 64;  // one cache line; also what AVX-512 loads like

// Note [CPU block cache]
// malloc hands blocks above its mmap threshold (32 MiB at most in glibc) straight back
// to the kernel on free, so every large temporary (the result of x + y on 16M floats)
// costs fresh pages and a page fault per 4 KiB on first touch, which in a VM can cost
// more than the arithmetic: measured here, a 16M-element add ran at 0.6 GB/s instead
// of ~20. Blocks below the threshold suffer too: glibc trims the top of its heap on
// free, so a training step's 128 KiB activations were page-faulted afresh every step
// (a fifth of the MLP's step time). Freed blocks of at least kCacheMin bytes are
// therefore kept, keyed by their rounded size, and reused by the next allocation of
// that size, up to kCacheMax bytes in all. Under AddressSanitizer nothing is cached, so use-after-free stays detectable.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheBlocks = false;
#else
constexpr bool kCacheBlocks = true;
#endif
constexpr size_t kCacheMin = size_t(1) << 16;  // 64 KiB
constexpr size_t kCacheMax = size_t(1) << 30;  // 1 GiB
constexpr size_t kPage = 4096;

struct CpuBackend final : DeviceBackend {
  void* allocate(size_t nbytes, int) override {
    size_t rounded = round_up(nbytes);
    if (kCacheBlocks && rounded >= kCacheMin) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = cache_.find(rounded);
      if (it != cache_.end()) {
        void* p = it->second;
        cache_.erase(it);
        cached_bytes_ -= rounded;
        return p;
      }
    }
    void* p = std::aligned_alloc(kCpuAlignment, rounded);
    KILN_CHECK(p != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t nbytes, int) override {
    size_t rounded = round_up(nbytes);
    if (kCacheBlocks && rounded >= kCacheMin) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + rounded <= kCacheMax) {
        cache_.emplace(rounded, ptr);
        cached_bytes_ += rounded;
        return;
      }
    }
    std::free(ptr);
  }
  void copy_to_host(void* dst, const void* src, size_t n, int) override { std::memcpy(dst, src, n); }
  void copy_from_host(void* dst, const void* src, size_t n, int) override { std::memcpy(dst, src, n); }
  void copy_within(void* dst, const void* src, size_t n, int) override { std::memcpy(dst, src, n); }
  int device_count() override { return 1; }
  void synchronize(int) override {}

 private:
  // Large blocks are rounded to whole pages so that nearby sizes share cache entries.
  static size_t round_up(size_t n) {
    size_t unit = n >= kCacheMin ? kPage : kCpuAlignment;
    size_t r = (n + unit - 1) / unit * unit;
    return r > 0 ? r : kCpuAlignment;
  }
  std::mutex mutex_;
  std::multimap<size_t, void*> cache_;  // rounded size -> free block
  size_t cached_bytes_ = 0;
};

// NOTE: backends are never destroyed: tensors held in static objects are freed during
// static destruction, in an order the language does not define, and must still find them.
DeviceBackend*& backend_slot(DeviceType type) {
  static DeviceBackend* table[kNumDeviceTypes] = {new CpuBackend, nullptr};
  return table[static_cast<int>(type)];
}

}  // namespace

void* DeviceBackend::allocate_pinned(size_t) {
  KILN_FAIL("pin_memory: this device backend has no pinned host memory");
}
void DeviceBackend::deallocate_pinned(void*, size_t) {}
void DeviceBackend::copy_to_host_async(void*, const void*, size_t, int, void*) {
  KILN_FAIL("to: this device backend has no asynchronous copies");
}
void DeviceBackend::copy_from_host_async(void*, const void*, size_t, int, void*) {
  KILN_FAIL("to: this device backend has no asynchronous copies");
}

DeviceBackend* register_backend(DeviceType type, DeviceBackend* backend) {
  return std::exchange(backend_slot(type), backend);
}

bool backend_available(DeviceType type) { return backend_slot(type) != nullptr; }

DeviceBackend& backend_for(Device device, const char* op) {
  DeviceBackend* b = backend_slot(device.type);
  KILN_CHECK(b != nullptr, op, ": device ", device, " is not available: kiln was built without CUDA");
  if (device.is_cuda()) {
    int count = b->device_count();
    KILN_CHECK(device.index >= 0 && device.index < count, op, ": device ", device,
               " is not available (", count, " CUDA device(s) found)");
  }
  return *b;
}

void synchronize(Device device) { backend_for(device, "synchronize").synchronize(device.index); }

namespace {

// The GPU backend that owns pinned host memory, with an error naming why there is none.
DeviceBackend& pinned_backend(const char* op) {
  DeviceBackend* b = backend_slot(DeviceType::CUDA);
  KILN_CHECK(b != nullptr, op, ": pinned memory needs CUDA, which is not available: kiln was built without CUDA");
  KILN_CHECK(b->device_count() > 0, op, ": pinned memory needs CUDA, which is not available: no CUDA device found");
  return *b;
}

}  // namespace

StorageImpl::StorageImpl(size_t nbytes, Device device, bool pinned)
    : nbytes_(nbytes), device_(device) {
  if (pinned) {
    KILN_CHECK(device.is_cpu(), "pin_memory: only host (cpu) memory can be pinned, got device ", device);
    DeviceBackend& backend = pinned_backend("pin_memory");
    data_ = backend.allocate_pinned(nbytes);
    pinned_backend_ = &backend;
  } else {
    data_ = backend_for(device, "allocate").allocate(nbytes, device.index);
  }
}

StorageImpl::~StorageImpl() {
  if (pinned_backend_ != nullptr) {
    // Back to the backend that allocated it, even if another has been registered since.
    pinned_backend_->deallocate_pinned(data_, nbytes_);
    return;
  }
  backend_for(device_, "free").deallocate(data_, nbytes_, device_.index);
}

Storage make_storage(size_t nbytes, Device device, bool pinned) {
  return std::make_shared<StorageImpl>(nbytes, device, pinned);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
  } else if (dst_device.is_cpu()) {
    backend_for(src_device, "copy").copy_to_host(dst, src, nbytes, src_device.index);
  } else if (src_device.is_cpu()) {
    backend_for(dst_device, "copy").copy_from_host(dst, src, nbytes, dst_device.index);
  } else if (dst_device == src_device) {
    backend_for(dst_device, "copy").copy_within(dst, src, nbytes, dst_device.index);
  } else {
    std::vector<char> host(nbytes);
    backend_for(src_device, "copy").copy_to_host(host.data(), src, nbytes, src_device.index);
    backend_for(dst_device, "copy").copy_from_host(dst, host.data(), nbytes, dst_device.index);
  }
}

}  // namespace kiln
