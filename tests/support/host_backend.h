// A device backend whose "device" memory is host memory: registered as CUDA, it lets
// tests reach device checks, allocation bookkeeping and copies on machines without a GPU
// (no kernel may run on it). Tests derive from it to count allocations or to add
// pinned memory.
#pragma once

#include <cstdlib>
#include <cstring>

#include "core/storage.h"

namespace kiln::test {

struct HostMemoryBackend : DeviceBackend {
  void* allocate(size_t nbytes, int) override { return std::malloc(nbytes > 0 ? nbytes : 1); }
  void deallocate(void* p, size_t, int) override { std::free(p); }
  void copy_to_host(void* d, const void* s, size_t n, int) override { std::memcpy(d, s, n); }
  void copy_from_host(void* d, const void* s, size_t n, int) override { std::memcpy(d, s, n); }
  void copy_within(void* d, const void* s, size_t n, int) override { std::memcpy(d, s, n); }
  int device_count() override { return 1; }
  void synchronize(int) override {}
};

}  // namespace kiln::test
