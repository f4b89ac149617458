// CUDA runtime: device discovery and the host<->device round trip. Tests that need a
// device skip, saying why, on machines without one; the launch arithmetic runs everywhere.
#include "kiln.h"
#include "support/check.h"
#include "support/cuda.h"
#include "support/errors.h"

#ifdef KILN_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace kiln {
namespace {

using test::error_of;

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

#else

TEST(CudaRuntime, BuildWithoutCudaGivesClearError) {
  EXPECT_EQ(error_of([] { zeros({2}).to(Device::cuda()); }),
            "to: device cuda:0 is not available: kiln was built without CUDA");
}

#endif

}  // namespace
}  // namespace kiln
