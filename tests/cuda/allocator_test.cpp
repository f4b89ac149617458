// CPU-side tests of the CUDA backend that need no GPU: the caching allocator's
// bookkeeping over a counting fake raw allocator, the reduction launch arithmetic, and
// the device-mismatch error of the matrix products (with a fake CUDA backend in host memory).
#include <cstdlib>
#include <cstring>
#include <map>

#include <gmock/gmock.h>

#include "core/storage.h"
#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/host_backend.h"

#ifdef KILN_WITH_CUDA
#include "cuda/allocator.h"
#include "cuda/runtime.h"
#endif

namespace kiln {
namespace {

using test::error_of;
using ::testing::HasSubstr;

#ifdef KILN_WITH_CUDA

// Hands out distinct fake addresses, counts calls, and runs out of memory beyond `limit` bytes.
struct FakeRaw final : cuda::RawAllocator {
  size_t limit = size_t(1) << 40;
  size_t in_use = 0;
  int64_t allocs = 0, releases = 0;
  uintptr_t next = 0x1000;
  std::map<void*, size_t> live;
  void* allocate(size_t nbytes, int) override {
    ++allocs;
    if (in_use + nbytes > limit) return nullptr;
    void* p = reinterpret_cast<void*>(next);
    next += nbytes + 512;
    live[p] = nbytes;
    in_use += nbytes;
    return p;
  }
  void release(void* p, size_t nbytes, int) override {
    ++releases;
    EXPECT_EQ(live.at(p), nbytes);
    live.erase(p);
    in_use -= nbytes;
  }
};

TEST(CudaAllocator, RoundsToSizeClasses) {
  EXPECT_EQ(cuda::round_size(0), 512u);
  EXPECT_EQ(cuda::round_size(1), 512u);
  EXPECT_EQ(cuda::round_size(512), 512u);
  EXPECT_EQ(cuda::round_size(513), 1024u);
  EXPECT_EQ(cuda::round_size((size_t(1) << 20) - 1), size_t(1) << 20);
  EXPECT_EQ(cuda::round_size(size_t(1) << 20), size_t(2) << 20);  // 1 MiB and up: 2 MiB granularity
  EXPECT_EQ(cuda::round_size((size_t(2) << 20) + 1), size_t(4) << 20);
}

TEST(CudaAllocator, FreedBlockIsReusedForTheSameSizeClass) {
  FakeRaw raw;
  cuda::CachingAllocator alloc(raw);
  void* a = alloc.allocate(1000, 0);
  alloc.deallocate(a, 1000, 0);
  void* b = alloc.allocate(1020, 0);  // same 1024-byte class
  EXPECT_EQ(a, b);
  void* c = alloc.allocate(2000, 0);  // another class: a new block
  EXPECT_NE(c, b);
  auto s = alloc.stats(0);
  EXPECT_EQ(s.num_mallocs, 2);
  EXPECT_EQ(s.num_cache_hits, 1);
  EXPECT_EQ(s.allocated, 1024u + 2048u);
  EXPECT_EQ(s.reserved, 1024u + 2048u);
  alloc.deallocate(b, 1020, 0);
  alloc.deallocate(c, 2000, 0);
  s = alloc.stats(0);
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_EQ(s.reserved, 3072u);
  EXPECT_EQ(s.peak_allocated, 3072u);
  EXPECT_EQ(raw.releases, 0);
}

TEST(CudaAllocator, EmptyCacheReturnsOnlyFreeBlocks) {
  FakeRaw raw;
  cuda::CachingAllocator alloc(raw);
  void* a = alloc.allocate(4 << 20, 0);
  void* b = alloc.allocate(100, 0);
  alloc.deallocate(a, 4 << 20, 0);
  alloc.empty_cache();
  EXPECT_EQ(raw.releases, 1);
  EXPECT_EQ(raw.live.count(b), 1u);
  auto s = alloc.stats(0);
  EXPECT_EQ(s.reserved, 512u);
  EXPECT_EQ(s.allocated, 512u);
  EXPECT_EQ(s.num_frees, 1);
  alloc.deallocate(b, 100, 0);
}

TEST(CudaAllocator, DevicesHaveSeparateCachesAndStats) {
  FakeRaw raw;
  cuda::CachingAllocator alloc(raw);
  void* a = alloc.allocate(700, 0);
  alloc.deallocate(a, 700, 0);
  void* b = alloc.allocate(700, 1);  // device 1 does not see device 0's free block
  EXPECT_NE(a, b);
  EXPECT_EQ(alloc.stats(0).allocated, 0u);
  EXPECT_EQ(alloc.stats(1).allocated, 1024u);
  EXPECT_EQ(alloc.stats(2).reserved, 0u);
  alloc.deallocate(b, 700, 1);
}

TEST(CudaAllocator, OutOfMemoryFreesTheCacheAndRetriesOnce) {
  FakeRaw raw;
  raw.limit = 8 << 20;
  cuda::CachingAllocator alloc(raw);
  void* a = alloc.allocate(6 << 20, 0);
  alloc.deallocate(a, 6 << 20, 0);  // cached: 6 MiB reserved, nothing in use
  void* b = alloc.allocate(4 << 20, 0);  // fails, cache released, retry succeeds
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(raw.releases, 1);
  auto s = alloc.stats(0);
  EXPECT_EQ(s.num_mallocs, 3);
  EXPECT_EQ(s.reserved, size_t(4) << 20);
  alloc.deallocate(b, 4 << 20, 0);
}

TEST(CudaAllocator, OutOfMemoryErrorNamesSizeAndStats) {
  FakeRaw raw;
  raw.limit = 4 << 20;
  cuda::CachingAllocator alloc(raw);
  void* a = alloc.allocate(3 << 20, 0);  // 4 MiB class
  std::string msg = error_of([&] { alloc.allocate(5 << 20, 0); });
  EXPECT_THAT(msg, HasSubstr("out of memory allocating 5242880 bytes (size class 6291456) on cuda:0"));
  EXPECT_THAT(msg, HasSubstr("allocated 4194304 bytes, reserved 4194304 bytes"));
  alloc.deallocate(a, 3 << 20, 0);
}

TEST(CudaAllocator, DestructorReturnsCachedBlocks) {
  FakeRaw raw;
  {
    cuda::CachingAllocator alloc(raw);
    alloc.deallocate(alloc.allocate(10, 0), 10, 0);
  }
  EXPECT_TRUE(raw.live.empty());
}

TEST(CudaLaunch, ReduceUsesBlocksForLongRowsAndThreadsForColumns) {
  auto rows = cuda::launch_config_reduce(37, 301, 1);
  EXPECT_TRUE(rows.block_per_output);
  EXPECT_EQ(rows.blocks, 37u);
  EXPECT_EQ(rows.threads, 256u);
  auto short_rows = cuda::launch_config_reduce(1000, 70, 1);
  EXPECT_TRUE(short_rows.block_per_output);
  EXPECT_EQ(short_rows.threads, 128u);
  auto tiny_rows = cuda::launch_config_reduce(1000, 10, 1);
  EXPECT_FALSE(tiny_rows.block_per_output);
  EXPECT_EQ(tiny_rows.blocks, 4u);  // 1000 outputs, 256 threads a block
  auto columns = cuda::launch_config_reduce(37, 301, 3000);
  EXPECT_FALSE(columns.block_per_output);
  EXPECT_EQ(columns.blocks, (37u * 3000u + 255u) / 256u);
  auto few_long = cuda::launch_config_reduce(3, 5000, 2);  // 6 outputs: a block each
  EXPECT_TRUE(few_long.block_per_output);
  EXPECT_EQ(few_long.blocks, 6u);
  EXPECT_EQ(cuda::launch_config_reduce(1, 1 << 30, 1).blocks, 1u);
  EXPECT_EQ(cuda::launch_config_reduce(int64_t(1) << 32, 100, 1).blocks, 65535u * 16u);  // capped: grid-stride
}

#endif  // KILN_WITH_CUDA

using test::HostMemoryBackend;  // support/host_backend.h

// tests/core/device_test.cpp covers add and where; the matrix products check devices
// in their own place (ops/linalg.cpp), so they get their own test.
TEST(CudaDevices, MatrixProductOfCpuAndCudaTensorsIsAClearError) {
  static HostMemoryBackend fake;  // outlives every tensor made on it
  DeviceBackend* real = register_backend(DeviceType::CUDA, &fake);
  std::string mm_msg, bmm_msg;
  {
    Tensor c = zeros({2, 3}).to(Device::cuda());
    mm_msg = error_of([&] { mm(ones({4, 2}), c); });
    bmm_msg = error_of([&] { bmm(c.unsqueeze(0), ones({1, 3, 5})); });
  }
  register_backend(DeviceType::CUDA, real);
  EXPECT_EQ(mm_msg, "mm: expected both tensors on the same device, got float32[4, 2] on cpu and float32[2, 3] on cuda:0");
  EXPECT_EQ(bmm_msg,
            "bmm: expected both tensors on the same device, got float32[1, 2, 3] on cuda:0 and float32[1, 3, 5] on cpu");
}

}  // namespace
}  // namespace kiln
