// CUDA runtime: device discovery, the host<->device round trip, and kiln's stream per
// device (Note [CUDA streams]): that the per-device cache beneath it creates each object
// once and keeps it (every machine), and that work queued on the stream is ordered with
// the copies the host waits for (skips, saying why, on machines without a device). The
// launch arithmetic runs in every CUDA build.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gmock/gmock.h>

#include "cuda/per_device.h"
#include "kiln.h"
#include "support/check.h"
#include "support/cuda.h"
#include "support/errors.h"

#ifdef KILN_WITH_CUDA
#include "cuda/runtime.h"
#include "ops/conv_cudnn.h"
#endif

namespace kiln {
namespace {

using test::error_of;
using ::testing::HasSubstr;

// ---- the per-device cache (cuda/per_device.h): pure C++, every machine ----

TEST(CudaPerDevice, CreatesOncePerDeviceAndKeepsTheObject) {
  std::vector<int> created;
  cuda::PerDevice<int> cache([&](int device) {
    created.push_back(device);
    return 100 + device;
  });
  EXPECT_EQ(cache.get(0), 100);
  EXPECT_EQ(cache.get(0), 100);
  EXPECT_EQ(cache.get(3), 103);
  EXPECT_EQ(cache.get(3), 103);
  EXPECT_EQ(cache.get(0), 100);
  EXPECT_EQ(created, (std::vector<int>{0, 3}));  // one creation per device, in first-use order
}

TEST(CudaPerDevice, ConcurrentFirstUseCreatesOnceAndEveryThreadGetsTheSameObject) {
  std::atomic<int> creations{0};
  cuda::PerDevice<int> cache([&](int device) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // widen the race
    return 1000 * (++creations) + device;
  });
  constexpr int kThreads = 8;
  std::vector<int> got(kThreads, -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { got[size_t(t)] = cache.get(t % 2); });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(creations.load(), 2);  // device 0 and device 1, once each
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[size_t(t)], got[size_t(t % 2)]) << "thread " << t;
  EXPECT_NE(got[0], got[1]);
  EXPECT_EQ(got[0] % 1000, 0);
  EXPECT_EQ(got[1] % 1000, 1);
}

TEST(CudaPerDevice, FailedCreationStoresNothingAndIsRetried) {
  int attempts = 0;
  cuda::PerDevice<int> cache([&](int device) {
    if (++attempts == 1) throw std::runtime_error("no stream for you");
    return device + 7;
  });
  EXPECT_THROW(cache.get(2), std::runtime_error);
  EXPECT_EQ(cache.get(2), 9);
  EXPECT_EQ(cache.get(2), 9);
  EXPECT_EQ(attempts, 2);
}

TEST(CudaPerDevice, DeviceOutOfRangeIsAClearError) {
  cuda::PerDevice<int> cache([](int device) { return device; });
  EXPECT_THAT(error_of([&] { cache.get(-1); }), HasSubstr("cuda: expected a device index in [0, 64), got -1"));
  EXPECT_THAT(error_of([&] { cache.get(cuda::kMaxDevices); }), HasSubstr("got 64"));
  EXPECT_EQ(cache.get(cuda::kMaxDevices - 1), cuda::kMaxDevices - 1);
}

#ifdef KILN_WITH_CUDA

TEST(CudaRuntime, LaunchConfigCoversAllElements) {
  auto c = cuda::launch_config_1d(1000, 256);
  EXPECT_EQ(c.blocks, 4u);
  EXPECT_EQ(c.threads, 256u);
  EXPECT_EQ(cuda::launch_config_1d(0).blocks, 1u);
  EXPECT_EQ(cuda::launch_config_1d(int64_t(1) << 40, 256, 1024).blocks, 1024u);  // capped: grid-stride loops
}

TEST(CudaRuntime, MissingDeviceIsAClearError) {
  int n = cuda::device_count();
  std::string msg = error_of([&] { zeros({2}).to(Device::cuda(n)); });
  EXPECT_EQ(msg, "to: device cuda:" + std::to_string(n) + " is not available (" + std::to_string(n) +
                     " CUDA device(s) found)");
}

TEST(CudaRuntime, RoundTripKeepsValues) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor x = randn({17, 5});
  Tensor y = x.to(Device::cuda());
  EXPECT_TRUE(y.device().is_cuda());
  EXPECT_TRUE(test::allclose(y.to(Device::cpu()), x, 0, 0));
}

TEST(CudaRuntime, FillAndStridedConvertingCopyOnDevice) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor z = full({3, 4}, 2.5, TensorOptions(Device::cuda()));
  EXPECT_EQ(z.to(Device::cpu()).to_vector<float>(), std::vector<float>(12, 2.5f));
  Tensor x = randn({3, 4}).to(Device::cuda());
  Tensor t = x.t().to(kFloat64);  // a strided source, converted on the device
  EXPECT_TRUE(test::allclose(t.to(Device::cpu()), x.to(Device::cpu()).t().to(kFloat64), 0, 0));
}

TEST(CudaRuntime, SameSeedSameRandomNumbersOnBothDevices) {
  KILN_REQUIRE_CUDA_DEVICE();
  Generator a(5), b(5);
  Tensor c = randn({100}, {}, &a);
  Tensor g = randn({100}, TensorOptions(Device::cuda()), &b);
  EXPECT_TRUE(test::allclose(g.to(Device::cpu()), c, 0, 0));
}

// ---- kiln's stream (Note [CUDA streams]): on a device ----

TEST(CudaStream, OneNonBlockingStreamPerDeviceTheSameForEveryCall) {
  KILN_REQUIRE_CUDA_DEVICE();
  const cudaStream_t s = cuda::stream_for(0);
  EXPECT_NE(s, cudaStream_t(nullptr)) << "the legacy default stream";
  EXPECT_NE(s, cudaStreamLegacy);
  EXPECT_NE(s, cudaStreamPerThread);
  EXPECT_EQ(cuda::stream_for(0), s);
  unsigned flags = 0;
  KILN_CUDA_CHECK(cudaStreamGetFlags(s, &flags));
  EXPECT_EQ(flags, unsigned(cudaStreamNonBlocking));
  cudaStream_t from_thread = nullptr;
  std::thread([&] { from_thread = cuda::stream_for(0); }).join();
  EXPECT_EQ(from_thread, s);
  if (cuda::device_count() >= 2) {
    EXPECT_NE(cuda::stream_for(1), s);
  }
}

TEST(CudaStream, MissingDeviceIsAClearErrorAndLeavesNoCudaErrorBehind) {
  KILN_REQUIRE_CUDA_DEVICE();
  const int n = cuda::device_count();
  EXPECT_EQ(error_of([&] { cuda::stream_for(n); }),
            "cuda: device cuda:" + std::to_string(n) + " is not available (" + std::to_string(n) +
                " CUDA device(s) found)");
  EXPECT_THAT(error_of([] { cuda::stream_for(-1); }), HasSubstr("expected a device index in [0, 64), got -1"));
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// 16M floats (64 MB): enough that a kernel is still running when an unordered read
// would start.
constexpr int64_t kBig = int64_t(1) << 24;

// Whether every element of a float32 CPU tensor equals v (the first mismatch otherwise).
::testing::AssertionResult all_equal(const Tensor& t, float v) {
  const float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (p[i] != v) return ::testing::AssertionFailure() << "element " << i << " is " << p[i] << ", expected " << v;
  }
  return ::testing::AssertionSuccess();
}

TEST(CudaStream, HostReadRightAfterKernelsSeesTheirResult) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor y = full({kBig}, 1.5, TensorOptions(Device::cuda())) * 2.0;
  for (int i = 0; i < 20; ++i) y = y + 1.0;
  EXPECT_TRUE(all_equal(y.to(Device::cpu()), 23.0f));  // the copy waits for the 22 kernels before it
}

TEST(CudaStream, FreedBlockIsReusedOnlyAfterTheWorkQueuedOnIt) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor a = full({kBig}, 1.0, TensorOptions(Device::cuda()));
  Tensor b = a * 3.0;  // queued: reads a
  const void* block = a.raw_data();
  a = Tensor();  // freed while the kernel reading it may still be queued
  Tensor c = full({kBig}, 100.0, TensorOptions(Device::cuda()));
  EXPECT_EQ(c.raw_data(), block) << "the caching allocator did not hand the block out again";
  EXPECT_TRUE(all_equal(b.to(Device::cpu()), 3.0f));  // the fill ran after the read
  EXPECT_TRUE(all_equal(c.to(Device::cpu()), 100.0f));
}

TEST(CudaStream, SynchronizeWaitsForQueuedKernelsAndCopies) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor d = full({kBig}, 0.5, TensorOptions(Device::cuda()));
  for (int i = 0; i < 10; ++i) d = d * 2.0;
  Tensor back = d.to(Device::cpu(), /*non_blocking=*/true);
  synchronize(Device::cuda());
  EXPECT_TRUE(all_equal(back, 512.0f));
  cuda::synchronize(0);  // nothing queued: returns at once
}

TEST(CudaStream, CublasRunsAfterTheKernelsThatWriteItsInputs) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor a = full({1024, 1024}, 1.0, TensorOptions(Device::cuda())) * 0.5;  // kiln kernels, then cuBLAS
  EXPECT_TRUE(all_equal(mm(a, a).to(Device::cpu()), 256.0f));
}

TEST(CudaStream, CudnnRunsAfterTheKernelsThatWriteItsInputs) {
  KILN_REQUIRE_CUDA_DEVICE();
  if (!cudnn_is_available()) GTEST_SKIP() << "cuDNN is not available in this build";
  Tensor x = full({8, 16, 64, 64}, 1.0, TensorOptions(Device::cuda())) * 0.5;
  Tensor w = full({16, 16, 3, 3}, 1.0, TensorOptions(Device::cuda())) * 0.25;
  Tensor y = conv2d_cudnn(x, w, {1, 1}, {0, 0}, {1, 1}, 1);  // every output: 16 * 9 * 0.5 * 0.25
  EXPECT_TRUE(all_equal(y.to(Device::cpu()), 18.0f));
}

TEST(CudaStream, CopyBetweenDevicesSeesTheSourcesKernels) {
  KILN_REQUIRE_CUDA_DEVICE();
  if (cuda::device_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
  Tensor x = full({kBig}, 1.0, TensorOptions(Device::cuda(0))) * 5.0;
  Tensor y = x.to(Device::cuda(1));
  EXPECT_TRUE(all_equal(y.to(Device::cpu()), 5.0f));
  Tensor z = (y + 1.0).to(Device::cuda(0));
  EXPECT_TRUE(all_equal(z.to(Device::cpu()), 6.0f));
}

#else

TEST(CudaRuntime, BuildWithoutCudaGivesClearError) {
  EXPECT_EQ(error_of([] { zeros({2}).to(Device::cuda()); }),
            "to: device cuda:0 is not available: kiln was built without CUDA");
}

#endif

}  // namespace
}  // namespace kiln
