// What the CUDA test suites share: skipping without a device (saying why), and moving
// tensors between the devices. Only in CUDA builds.
#pragma once

#ifdef KILN_WITH_CUDA
#include <functional>
#include <string>
#include <vector>

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

// The floating dtypes every CUDA kernel takes, for the parity suites to loop over.
inline const std::vector<DType> kFloating = {kFloat32, kFloat64};

// An output's tolerances in a parity check.
struct Tolerance {
  double rtol, atol;
};

// f on the CPU vs f on the GPU, every output compared: undefined ones must be undefined
// on both, defined ones on the GPU and allclose to the CPU's with tolerance[i] (a single
// tolerance holds for every output). Inputs are copied to the GPU; undefined ones stay
// undefined. names[i], when given, labels output i in failures.
using ListFn = std::function<TensorList(const TensorList&)>;
inline void expect_parity(const ListFn& f, const TensorList& inputs, const std::vector<Tolerance>& tolerance,
                          const std::string& what, const std::vector<std::string>& names = {}) {
  SCOPED_TRACE(what);
  TensorList want = f(inputs);
  TensorList device_inputs;
  for (const Tensor& t : inputs) device_inputs.push_back(t.defined() ? on_cuda(t) : t);
  TensorList got = f(device_inputs);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_TRUE(tolerance.size() == 1 || tolerance.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(i < names.size() ? names[i] : "output " + std::to_string(i));
    ASSERT_EQ(got[i].defined(), want[i].defined());
    if (want[i].defined()) {
      EXPECT_TRUE(got[i].device().is_cuda());
      const Tolerance& tol = tolerance[tolerance.size() == 1 ? 0 : i];
      EXPECT_TRUE(allclose(on_cpu(got[i]), want[i], tol.rtol, tol.atol));
    }
  }
}

// The same with one tolerance for every output.
inline void expect_parity(const ListFn& f, const TensorList& inputs, double rtol, double atol,
                          const std::string& what) {
  expect_parity(f, inputs, std::vector<Tolerance>{{rtol, atol}}, what);
}
}  // namespace kiln::test
#endif
