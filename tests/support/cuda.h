// What the CUDA test suites share: skipping without a device (saying why), and moving
// tensors between the devices. Only in CUDA builds.
#pragma once

#ifdef KILN_WITH_CUDA
#include <gtest/gtest.h>

#include "core/tensor.h"
#include "cuda/runtime.h"

// Skips the test, with CUDA's reason, when no device is present.
#define KILN_REQUIRE_CUDA_DEVICE() \
  if (::kiln::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << ::kiln::cuda::unavailable_reason()

namespace kiln::test {
inline Tensor on_cuda(const Tensor& t) { return t.to(Device::cuda()); }
inline Tensor on_cpu(const Tensor& t) { return t.to(Device::cpu()); }
}  // namespace kiln::test
#endif
