// Device checks that need a second device, run on any machine: a fake "CUDA" backend
// (host memory behind the CUDA device type) stands in for a GPU, so the errors for
// mixing devices and for ops without a kernel on a device can be asserted everywhere.
#include <cstdlib>
#include <cstring>

#include "core/dispatch.h"
#include "kiln.h"
#include "support/check.h"
#include "support/errors.h"
#include "support/host_backend.h"

namespace kiln {
namespace {

using test::error_of;

// Host memory pretending to be cuda:0, with allocation bookkeeping.
struct FakeDeviceBackend final : test::HostMemoryBackend {
  int64_t live_bytes = 0;
  void* allocate(size_t n, int) override {
    live_bytes += int64_t(n);
    return HostMemoryBackend::allocate(n, 0);
  }
  void deallocate(void* p, size_t n, int) override {
    live_bytes -= int64_t(n);
    HostMemoryBackend::deallocate(p, n, 0);
  }
};

class FakeCuda : public ::testing::Test {
 protected:
  void SetUp() override { previous_ = register_backend(DeviceType::CUDA, &fake_); }
  void TearDown() override { register_backend(DeviceType::CUDA, previous_); }
  FakeDeviceBackend fake_;
  DeviceBackend* previous_ = nullptr;
};

TEST_F(FakeCuda, MixingDevicesNamesBothDevices) {
  Tensor a = zeros({2, 3});
  Tensor b = empty({2, 3}, TensorOptions(Device::cuda()));
  EXPECT_EQ(error_of([&] { add(a, b); }),
            "add: expected both tensors on the same device, got float32[2, 3] on cpu and float32[2, 3] on cuda:0");
  EXPECT_EQ(error_of([&] { where(ones({2, 3}, kBool), a, b); }),
            "where: expected both tensors on the same device, got float32[2, 3] on cpu and float32[2, 3] on cuda:0");
}

// A stub with a CPU kernel only (not listed in the stub registry, so the coverage table
// does not see it): calling it on a CUDA tensor names the op and the device.
void test_only_cpu_kernel(const Tensor&) {}
DispatchStub<void(const Tensor&)> test_only_stub("test_only_op");
[[maybe_unused]] const bool test_only_registered = test_only_stub.set(DeviceType::CPU, test_only_cpu_kernel);

TEST_F(FakeCuda, OpWithoutKernelOnDeviceIsAClearError) {
  Tensor b = empty({2}, TensorOptions(Device::cuda()));
  std::string msg = error_of([&] { test_only_stub(b.device(), b); });
  EXPECT_EQ(msg.rfind("test_only_op: no kernel for device cuda:0", 0), 0u) << msg;
  EXPECT_NO_THROW(test_only_stub(Device::cpu(), empty({2})));
}

TEST_F(FakeCuda, TransfersKeepValuesAndStorageIsFreed) {
  {
    Tensor x = randn({4, 5});
    Tensor d = x.to(Device::cuda());
    EXPECT_EQ(fake_.live_bytes, 4 * 5 * 4);
    EXPECT_TRUE(test::allclose(d.to(Device::cpu()), x, 0, 0));
    EXPECT_EQ(d.to(Device::cuda()).impl(), d.impl());  // already there: no copy
  }
  EXPECT_EQ(fake_.live_bytes, 0);
}

TEST_F(FakeCuda, GradientFlowsBackAcrossTheTransfer) {
  Tensor x = tensor<double>({1.0, 2.0}).requires_grad_();
  Tensor d = x.to(Device::cuda());
  EXPECT_EQ(d.grad_fn()->name(), "to");
  Tensor back = d.to(Device::cpu());
  (back * back).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0, 4.0}));
}

TEST(Device, OutOfRangeIndexIsAClearError) {
  if (!backend_available(DeviceType::CUDA)) {
    EXPECT_EQ(error_of([] { zeros({1}).to(Device::cuda(3)); }),
              "to: device cuda:3 is not available: kiln was built without CUDA");
  } else {
    std::string msg = error_of([] { zeros({1}).to(Device::cuda(99)); });
    EXPECT_EQ(msg.rfind("to: device cuda:99 is not available (", 0), 0u) << msg;
  }
}

}  // namespace
}  // namespace kiln
