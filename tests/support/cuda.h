// What the CUDA test suites share: skipping without a device (saying why), and moving
// tensors between the devices. Only in CUDA builds.
#pragma once

#ifdef KILN_WITH_CUDA
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "core/tensor.h"
#include "cuda/runtime.h"
#include "support/check.h"

// Skips the test, with CUDA's reason, when no device is present.
#define KILN_REQUIRE_CUDA_DEVICE() \
  if (::kiln::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << ::kiln::cuda::unavailable_reason()

namespace kiln::test {
inline Tensor on_cuda(const Tensor& t) { return t.to(Device::cuda()); }
inline Tensor on_cpu(const Tensor& t) { return t.to(Device::cpu()); }

// f on the CPU vs f on the GPU, every output compared: undefined ones must be undefined
// on both, defined ones on the GPU and allclose to the CPU's. Inputs are copied to the
// GPU; undefined ones stay undefined.
using ListFn = std::function<TensorList(const TensorList&)>;
inline void expect_parity(const ListFn& f, const TensorList& inputs, double rtol, double atol,
                          const std::string& what) {
  SCOPED_TRACE(what);
  TensorList want = f(inputs);
  TensorList device_inputs;
  for (const Tensor& t : inputs) device_inputs.push_back(t.defined() ? on_cuda(t) : t);
  TensorList got = f(device_inputs);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    ASSERT_EQ(got[i].defined(), want[i].defined());
    if (want[i].defined()) {
      EXPECT_TRUE(got[i].device().is_cuda());
      EXPECT_TRUE(allclose(on_cpu(got[i]), want[i], rtol, atol));
    }
  }
}
}  // namespace kiln::test
#endif
