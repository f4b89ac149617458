// Max pooling on CUDA (cuda/pool.cu) against the CPU kernels (ops/cpu/pool.cpp) on the
// same random inputs: values and indices bit for bit (a maximum is a copy), the
// gradient to float32 rounding (the CUDA backward adds a pixel's windows in the CPU's
// order, so it matches exactly in practice), NaN, 16-bit floats and create_graph.
// Skips without a device.
#include <cmath>
#include <limits>
#include <string>

#include "kiln.h"
#include "support/check.h"
#include "support/cuda.h"

namespace kiln {
namespace {

#ifdef KILN_WITH_CUDA

using test::on_cpu;
using test::on_cuda;

struct PoolCase {
  Shape x;
  IntList k, s, p, d;
};

TEST(CudaPoolParity, ValuesIndicesAndGradientsMatchTheCpu) {
  KILN_REQUIRE_CUDA_DEVICE();
  const PoolCase cases[] = {{{32, 64, 16, 16}, {3, 3}, {2, 2}, {1, 1}, {1, 1}},  // ResNet-18's stem
                            {{2, 3, 9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},     // overlapping windows
                            {{3, 2, 13, 10}, {2, 3}, {2, 1}, {1, 1}, {2, 1}},    // every feature
                            {{1, 5, 7, 7}, {7, 7}, {7, 7}, {0, 0}, {1, 1}}};     // one window
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const PoolCase& c : cases) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + ::testing::PrintToString(c.x));
      Tensor x = randn(c.x, dtype).requires_grad_();
      Tensor xd = on_cuda(x.detach()).requires_grad_();
      ValuesIndices want = max_pool2d_with_indices(x, c.k, c.s, c.p, c.d);
      ValuesIndices got = max_pool2d_with_indices(xd, c.k, c.s, c.p, c.d);
      EXPECT_TRUE(test::allclose(on_cpu(got.values), want.values, 0, 0));
      EXPECT_EQ(on_cpu(got.indices).to_vector<int64_t>(), want.indices.to_vector<int64_t>());
      Tensor gy = randn(want.values.shape(), dtype);
      Tensor gx = grad({want.values}, {x}, {gy})[0];
      Tensor gxd = grad({got.values}, {xd}, {on_cuda(gy)})[0];
      EXPECT_TRUE(test::allclose(on_cpu(gxd), gx, 1e-6, 1e-6));
    }
  }
}

TEST(CudaPoolParity, NanSixteenBitAndCreateGraph) {
  KILN_REQUIRE_CUDA_DEVICE();
  Tensor x = randn({2, 3, 8, 8});
  x.data_ptr<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  x.data_ptr<float>()[70] = std::numeric_limits<float>::quiet_NaN();
  for (DType dtype : {kFloat32, kBFloat16, kFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor xt = x.to(dtype);
    ValuesIndices want = max_pool2d_with_indices(xt, {3, 3}, {2, 2}, {1, 1});
    ValuesIndices got = max_pool2d_with_indices(on_cuda(xt), {3, 3}, {2, 2}, {1, 1});
    EXPECT_EQ(on_cpu(got.indices).to_vector<int64_t>(), want.indices.to_vector<int64_t>());
    Tensor a = on_cpu(got.values).to(kFloat32), b = want.values.to(kFloat32);
    EXPECT_EQ(isnan(a).to_vector<bool>(), isnan(b).to_vector<bool>());
    EXPECT_TRUE(test::allclose(where(isnan(b), zeros_like(b), a), where(isnan(b), zeros_like(b), b), 0, 0));
  }
  // The double backward (a scatter_add, differentiated as a gather) on the device.
  Tensor x64 = randn({1, 2, 6, 6}, kFloat64);
  auto second = [](const Tensor& input) {
    Tensor leaf = input.detach().requires_grad_();
    Tensor y = max_pool2d_with_indices(leaf, {3, 3}, {1, 1}, {1, 1}).values;
    Tensor g = grad({sum(y * y)}, {leaf}, {}, true, true)[0];
    return grad({sum(g * g)}, {leaf})[0];
  };
  EXPECT_TRUE(test::allclose(on_cpu(second(on_cuda(x64))), second(x64), 1e-12, 1e-12));
}

#endif  // KILN_WITH_CUDA

}  // namespace
}  // namespace kiln
