// Pinned host memory and non_blocking copies (Note [Pinned memory and non_blocking
// copies] in core/storage.h): the Tensor side over a fake CUDA backend in host memory
// (every machine), the caching host allocator's bookkeeping over a fake cudaHostAlloc
// with controllable events (CUDA builds, no GPU needed), and the real round trip on a
// device (skips without one).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include <gmock/gmock.h>

#include "core/storage.h"
#include "kiln.h"
#include "support/check.h"
#include "support/cuda.h"
#include "support/errors.h"
#include "support/host_backend.h"

#ifdef KILN_WITH_CUDA
#include "cuda/allocator.h"
#endif

namespace kiln {
namespace {

using test::error_of;
using ::testing::HasSubstr;

// ---- the Tensor side, over a fake backend: every machine ----

// Host memory as cuda:0, with pinned blocks and "asynchronous" copies (memcpy) counted.
struct FakePinnedBackend final : test::HostMemoryBackend {
  std::set<void*> pinned_live;
  int64_t async_to_host = 0, async_from_host = 0;
  void* last_block = nullptr;
  void* allocate_pinned(size_t nbytes) override {
    void* p = std::malloc(nbytes > 0 ? nbytes : 1);
    pinned_live.insert(p);
    return p;
  }
  void deallocate_pinned(void* p, size_t) override {
    EXPECT_EQ(pinned_live.erase(p), 1u) << "freed a block that is not a live pinned block";
    std::free(p);
  }
  void copy_to_host_async(void* d, const void* s, size_t n, int, void* block) override {
    ++async_to_host;
    last_block = block;
    std::memcpy(d, s, n);
  }
  void copy_from_host_async(void* d, const void* s, size_t n, int, void* block) override {
    ++async_from_host;
    last_block = block;
    std::memcpy(d, s, n);
  }
};

class FakeCudaPinned : public ::testing::Test {
 protected:
  void SetUp() override { previous_ = register_backend(DeviceType::CUDA, &fake_); }
  void TearDown() override {
    register_backend(DeviceType::CUDA, previous_);
    EXPECT_TRUE(fake_.pinned_live.empty()) << "pinned blocks leaked";
  }
  FakePinnedBackend fake_;
  DeviceBackend* previous_ = nullptr;
};

TEST_F(FakeCudaPinned, PinMemoryCopiesIntoPinnedHostMemory) {
  Tensor x = arange(12).reshape({3, 4}).to(kFloat32);
  EXPECT_FALSE(x.is_pinned());
  Tensor p = x.pin_memory();
  EXPECT_TRUE(p.is_pinned());
  EXPECT_TRUE(p.device().is_cpu());
  EXPECT_FALSE(x.is_pinned());
  EXPECT_EQ(fake_.pinned_live.count(p.storage()->data()), 1u);
  EXPECT_TRUE(test::allclose(p, x, 0, 0));
  EXPECT_TRUE(p.pin_memory().same_storage(p));  // already pinned: itself
  EXPECT_TRUE(p.t().is_pinned());               // views share the pinned storage
  Tensor strided = x.t().pin_memory();          // a non-contiguous source is copied
  EXPECT_TRUE(test::allclose(strided, x.t(), 0, 0));
}

TEST_F(FakeCudaPinned, PinMemoryPassesGradientsThrough) {
  Tensor x = randn({2, 3}).requires_grad_();
  Tensor p = x.pin_memory();
  EXPECT_TRUE(p.is_pinned());
  (p * 2.0).sum().backward();
  EXPECT_TRUE(test::allclose(x.grad(), full({2, 3}, 2.0), 0, 0));
}

TEST_F(FakeCudaPinned, NonBlockingFromPinnedMemoryIsAsynchronous) {
  Tensor p = randn({5, 7}).pin_memory();
  Tensor d = p.to(Device::cuda(), /*non_blocking=*/true);
  EXPECT_EQ(fake_.async_from_host, 1);
  EXPECT_EQ(fake_.last_block, p.storage()->data());  // the copy is recorded on the source block
  EXPECT_TRUE(d.device().is_cuda());
  EXPECT_TRUE(test::allclose(d.to(Device::cpu()), p, 0, 0));
  // A view at an offset still records the block it lies in.
  Tensor row = p.narrow(0, 2, 2);
  Tensor dr = row.to(Device::cuda(), true);
  EXPECT_EQ(fake_.last_block, p.storage()->data());
  EXPECT_TRUE(test::allclose(dr.to(Device::cpu()), row, 0, 0));
}

TEST_F(FakeCudaPinned, NonBlockingFallsBackToTheSynchronousCopy) {
  Tensor pageable = randn({4, 4});
  Tensor d = pageable.to(Device::cuda(), true);  // pageable: ignored
  Tensor strided = pageable.pin_memory().t().to(Device::cuda(), true);  // non-contiguous: ignored
  Tensor g = randn({3}).requires_grad_().pin_memory();  // a graph output under grad mode: ignored
  Tensor dg = g.to(Device::cuda(), true);
  EXPECT_EQ(fake_.async_from_host, 0);
  EXPECT_TRUE(test::allclose(d.to(Device::cpu()), pageable, 0, 0));
  EXPECT_TRUE(test::allclose(strided.to(Device::cpu()), pageable.t(), 0, 0));
  EXPECT_TRUE(dg.requires_grad());
}

TEST_F(FakeCudaPinned, NonBlockingToHostGivesPinnedMemory) {
  Tensor x = randn({6, 2});
  Tensor d = x.to(Device::cuda());
  // (contiguous: a strided source would run a copy kernel, which the fake cannot)
  Tensor back = d.to(Device::cpu(), /*non_blocking=*/true);
  EXPECT_EQ(fake_.async_to_host, 1);
  EXPECT_TRUE(back.is_pinned());
  EXPECT_EQ(fake_.last_block, back.storage()->data());
  synchronize(Device::cuda());
  EXPECT_TRUE(test::allclose(back, x, 0, 0));
  Tensor sync_back = d.to(Device::cpu(), false);
  EXPECT_FALSE(sync_back.is_pinned());
}

TEST_F(FakeCudaPinned, PinningACudaTensorIsAClearError) {
  Tensor d = zeros({2, 2}).to(Device::cuda());
  EXPECT_EQ(error_of([&] { d.pin_memory(); }), "pin_memory: expected a CPU tensor, got float32[2, 2] on cuda:0");
}

TEST(CudaPinnedMemory, WithoutCudaIsAClearError) {
#ifdef KILN_WITH_CUDA
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
#endif
  std::string msg = error_of([] { randn({3}).pin_memory(); });
  EXPECT_THAT(msg, HasSubstr("pin_memory: pinned memory needs CUDA, which is not available: "));
#ifndef KILN_WITH_CUDA
  EXPECT_THAT(msg, HasSubstr("kiln was built without CUDA"));
#else
  EXPECT_THAT(msg, HasSubstr("no CUDA device found"));
#endif
}

#ifdef KILN_WITH_CUDA

// ---- the caching host allocator's bookkeeping: CUDA builds, no GPU needed ----

// Distinct fake addresses, a byte limit, and events whose completion the test decides.
struct FakeHostRaw final : cuda::RawHostAllocator {
  size_t limit = size_t(1) << 40, in_use = 0;
  uintptr_t next = 0x10000;
  std::map<void*, size_t> live;
  int64_t allocs = 0, releases = 0;
  std::map<int64_t, bool> events;  // id -> completed
  int64_t next_event = 1, destroyed = 0;
  void* allocate(size_t nbytes) override {
    ++allocs;
    if (in_use + nbytes > limit) return nullptr;
    void* p = reinterpret_cast<void*>(next);
    next += nbytes + 4096;
    live[p] = nbytes;
    in_use += nbytes;
    return p;
  }
  void release(void* p, size_t nbytes) override {
    ++releases;
    EXPECT_EQ(live.at(p), nbytes);
    live.erase(p);
    in_use -= nbytes;
  }
  void* record_event(int) override {
    events[next_event] = false;
    return reinterpret_cast<void*>(next_event++);
  }
  bool event_completed(void* e) override { return events.at(reinterpret_cast<int64_t>(e)); }
  void destroy_event(void* e) override {
    EXPECT_EQ(events.erase(reinterpret_cast<int64_t>(e)), 1u);
    ++destroyed;
  }
  void complete_all() {
    for (auto& [id, done] : events) done = true;
  }
};

TEST(CudaHostAllocator, ReusesFreedBlocksAndKeepsStatistics) {
  FakeHostRaw raw;
  cuda::CachingHostAllocator a(raw);
  void* p = a.allocate(1000);
  auto s = a.stats();
  EXPECT_EQ(s.allocated, 1024u);
  EXPECT_EQ(s.reserved, 1024u);
  EXPECT_EQ(s.peak_allocated, 1024u);
  EXPECT_EQ(s.num_mallocs, 1);
  void* q = a.allocate(3 << 20);  // 3 MiB -> the 4 MiB class
  EXPECT_EQ(a.stats().allocated, 1024u + (4u << 20));
  a.deallocate(p);
  EXPECT_EQ(a.stats().allocated, 4u << 20);
  EXPECT_EQ(a.stats().reserved, 1024u + (4u << 20));
  EXPECT_EQ(a.allocate(600), p);  // same class, no events: handed out again
  EXPECT_EQ(a.stats().num_cache_hits, 1);
  EXPECT_EQ(a.stats().peak_allocated, 1024u + (4u << 20));
  a.deallocate(p);
  a.deallocate(q);
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_allocated, 0u);
  a.empty_cache();
  EXPECT_EQ(a.stats().reserved, 0u);
  EXPECT_EQ(raw.releases, 2);
  EXPECT_TRUE(raw.live.empty());
}

TEST(CudaHostAllocator, BlockWithAQueuedCopyIsNotReusedUntilItCompletes) {
  FakeHostRaw raw;
  cuda::CachingHostAllocator a(raw);
  void* p = a.allocate(4096);
  a.record_use(p, 0);  // a copy queued on the block
  a.deallocate(p);     // the tensor dies before the copy has run
  EXPECT_EQ(a.pending_blocks(), 1u);
  EXPECT_EQ(a.stats().allocated, 0u);
  void* q = a.allocate(4096);
  EXPECT_NE(q, p) << "a block was handed out while a copy on it was still queued";
  EXPECT_EQ(raw.allocs, 2);
  a.empty_cache();  // the pending block stays: its copy may still run
  EXPECT_EQ(raw.live.count(p), 1u);
  raw.complete_all();
  EXPECT_EQ(a.allocate(4096), p);  // completed: back in the free list, reused
  EXPECT_EQ(a.pending_blocks(), 0u);
  EXPECT_EQ(raw.destroyed, 1);
  EXPECT_TRUE(raw.events.empty());
  a.deallocate(p);
  a.deallocate(q);
}

TEST(CudaHostAllocator, WaitsForEveryEventOfABlock) {
  FakeHostRaw raw;
  cuda::CachingHostAllocator a(raw);
  void* p = a.allocate(100);
  a.record_use(p, 0);
  a.record_use(p, 0);
  raw.events.begin()->second = true;  // the first copy done, the second not
  a.deallocate(p);
  EXPECT_NE(a.allocate(100), p);
  EXPECT_EQ(a.pending_blocks(), 1u);
  EXPECT_EQ(raw.destroyed, 1);  // the completed event is let go at once
  raw.complete_all();
  EXPECT_EQ(a.allocate(100), p);
}

TEST(CudaHostAllocator, OutOfMemoryReleasesTheCacheAndRetriesThenFailsClearly) {
  FakeHostRaw raw;
  raw.limit = 8 << 20;
  cuda::CachingHostAllocator a(raw);
  void* big = a.allocate(5 << 20);  // 6 MiB class
  a.deallocate(big);
  void* other = a.allocate(3 << 20);  // 4 MiB: does not fit beside the cached 6 MiB; retried after releasing it
  EXPECT_NE(other, nullptr);
  EXPECT_EQ(raw.releases, 1);
  EXPECT_EQ(a.stats().num_mallocs, 3);
  std::string msg = error_of([&] { a.allocate(7 << 20); });
  EXPECT_THAT(msg, HasSubstr("cuda host allocator: out of pinned memory allocating 7340032 bytes (size class 8388608)"));
  a.deallocate(other);
}

TEST(CudaHostAllocator, ForeignPointerIsAClearError) {
  FakeHostRaw raw;
  cuda::CachingHostAllocator a(raw);
  int local = 0;
  EXPECT_THAT(error_of([&] { a.record_use(&local, 0); }), HasSubstr("is not an allocated pinned block"));
  EXPECT_THAT(error_of([&] { a.deallocate(&local); }), HasSubstr("which is not an allocated pinned block"));
}

// ---- on a device ----

TEST(CudaPinnedMemory, NonBlockingRoundTripOnDevice) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor x = randn({1 << 20});
  Tensor p = x.pin_memory();
  EXPECT_TRUE(p.is_pinned());
  EXPECT_GE(cuda::host_memory_stats().allocated, size_t(4) << 20);
  Tensor d = p.to(Device::cuda(), /*non_blocking=*/true);
  Tensor y = (d * 2.0).to(Device::cpu(), /*non_blocking=*/true);
  EXPECT_TRUE(y.is_pinned());
  synchronize(Device::cuda());
  EXPECT_TRUE(test::allclose(y, x * 2.0, 0, 0));
  // Freed after its copies completed: the next pin of the same size reuses the block.
  void* block = p.storage()->data();
  p = Tensor();
  synchronize(Device::cuda());
  Tensor again = x.pin_memory();
  EXPECT_EQ(again.storage()->data(), block);
}

// The copy from pinned memory is queued on kiln's stream; the kernels queued after it
// on the same stream must see its data (Note [CUDA streams]).
TEST(CudaPinnedMemory, KernelRightAfterANonBlockingCopyFromPinnedMemorySeesItsData) {
  KILN_REQUIRE_CUDA_DEVICE();
  const int64_t n = int64_t(1) << 24;  // 64 MB: the DMA is still running when the kernel is queued
  Tensor p = arange(n).to(kFloat32).pin_memory();
  Tensor d = p.to(Device::cuda(), /*non_blocking=*/true);
  Tensor y = d * 2.0 + 1.0;
  Tensor back = y.to(Device::cpu());
  const float* got = back.data_ptr<float>();
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) wrong += got[i] != float(2 * i + 1);  // exact: below 2^25
  EXPECT_EQ(wrong, 0);
}

// A blocking copy returns with the data in place, so the host may overwrite its source
// at once, pinned (read by DMA after cudaMemcpyAsync returns) or pageable.
TEST(CudaPinnedMemory, BlockingCopyFromHostIsCompleteWhenItReturns) {
  KILN_REQUIRE_CUDA_DEVICE();
  const int64_t n = int64_t(1) << 24;
  for (bool pinned : {true, false}) {
    SCOPED_TRACE(pinned ? "pinned" : "pageable");
    Tensor h = full({n}, 2.0);
    if (pinned) h = h.pin_memory();
    Tensor d = h.to(Device::cuda());
    std::fill(h.data_ptr<float>(), h.data_ptr<float>() + n, -1.0f);
    Tensor back = d.to(Device::cpu());
    const float* got = back.data_ptr<float>();
    EXPECT_EQ(std::count(got, got + n, 2.0f), n);
  }
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
