// Creating tensors: empty/zeros/ones/full, ranges, eye, random tensors from a
// Generator (see Note [Philox streams]) and tensors from host data.
#pragma once

#include <cstdint>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace kiln {

// What a factory makes: dtype, device, and whether the result is a leaf that
// requires grad. Converts implicitly from a DType or a Device:
//   zeros({2, 3}, kFloat64);  randn({4}, TensorOptions().with_requires_grad());
struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  bool requires_grad = false;

  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}    // NOLINT(google-explicit-constructor)
  TensorOptions(Device d) : device(d) {}  // NOLINT(google-explicit-constructor)
  TensorOptions with_dtype(DType d) const { auto o = *this; o.dtype = d; return o; }
  TensorOptions with_device(Device d) const { auto o = *this; o.device = d; return o; }
  TensorOptions with_requires_grad(bool r = true) const { auto o = *this; o.requires_grad = r; return o; }
};

TensorOptions options_of(const Tensor& t);  // same dtype and device, no requires_grad

Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor scalar_tensor(double value, TensorOptions opts = {});  // 0-d
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);

// [start, end) in steps; the default dtype is int64 as in PyTorch when called with
// integers, so pass kFloat32 for floats.
Tensor arange(double end, TensorOptions opts = DType::Int64);
Tensor arange(double start, double end, double step = 1.0, TensorOptions opts = DType::Int64);
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
Tensor eye(int64_t n, int64_t m = -1, TensorOptions opts = {});

Tensor rand(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);   // U[0,1)
Tensor randn(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);  // N(0,1)
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts = DType::Int64,
               Generator* gen = nullptr);  // uniform integers in [low, high)
Tensor randperm(int64_t n, TensorOptions opts = DType::Int64, Generator* gen = nullptr);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

// Copies host values into a new tensor of `shape` (numel must match). The values
// are converted to opts.dtype; the default dtype follows T (float -> float32,
// double -> float64, int64_t -> int64, bool -> bool).
template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions opts);
template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape) {
  return tensor(values, shape, TensorOptions(dtype_of<T>::value));
}
template <typename T>
Tensor tensor(const std::vector<T>& values) {  // 1-D
  return tensor(values, Shape{static_cast<int64_t>(values.size())});
}
// Copies `numel_of(shape)` elements of `dtype` from raw host memory.
Tensor from_blob(const void* data, const Shape& shape, DType dtype, TensorOptions opts = {});

}  // namespace kiln
