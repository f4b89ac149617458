// Factories. Random tensors are filled on the CPU by the Philox streams of
// Note [Philox streams] and copied to the target device.
#include "core/factory.h"

#include <cmath>
#include <numbers>

#include "autograd/grad_mode.h"

namespace kiln {

namespace {

Tensor finish(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

// Fills a fresh contiguous CPU tensor of `dtype` with f(i) for each flat index i.
template <typename F>
Tensor fill_cpu(const Shape& shape, DType dtype, F f) {
  Tensor t = empty(shape, dtype);
  int64_t n = t.numel();
  dispatch_all(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(f(i));
  });
  return t;
}

Tensor to_target(Tensor cpu_tensor, const TensorOptions& opts) {
  Tensor t = opts.device.is_cpu() ? cpu_tensor : cpu_tensor.to(opts.device);
  return finish(t, opts);
}

// The Philox block of the previous call, kept: fill_cpu walks elements in order, and one
// block serves 2 or 4 consecutive elements, so each block is computed once.
class BlockStream {
 public:
  explicit BlockStream(uint64_t seed) : seed_(seed) {}
  const std::array<uint32_t, 4>& block(uint64_t index) {
    if (!valid_ || index != index_) {
      words_ = philox_block(seed_, index);
      index_ = index;
      valid_ = true;
    }
    return words_;
  }

 private:
  uint64_t seed_, index_ = 0;
  bool valid_ = false;
  std::array<uint32_t, 4> words_{};
};

uint64_t words64(const std::array<uint32_t, 4>& w, int64_t pair) {
  return (uint64_t(w[2 * pair]) << 32) | w[2 * pair + 1];
}

}  // namespace

TensorOptions options_of(const Tensor& t) { return TensorOptions(t.dtype()).with_device(t.device()); }

Tensor empty(const Shape& shape, TensorOptions opts) {
  for (int64_t s : shape) KILN_CHECK(s >= 0, "empty: negative size in shape ", shape);
  int64_t n = numel_of(shape);
  Storage storage = make_storage(size_t(n) * element_size(opts.dtype), opts.device);
  auto impl = std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, opts.dtype);
  return finish(Tensor(std::move(impl)), opts);
}

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  Tensor t = empty(shape, opts.with_requires_grad(false));
  {
    NoGradGuard no_grad;
    t.fill_(value);
  }
  return finish(t, opts);
}

Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor scalar_tensor(double value, TensorOptions opts) { return full({}, value, opts); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), options_of(t)); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), options_of(t)); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), options_of(t)); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, options_of(t)); }

Tensor arange(double end, TensorOptions opts) { return arange(0.0, end, 1.0, opts); }

Tensor arange(double start, double end, double step, TensorOptions opts) {
  KILN_CHECK(step != 0.0, "arange: step must be nonzero");
  KILN_CHECK((end - start) / step >= 0 || start == end, "arange: step ", step,
             " does not lead from start ", start, " to end ", end);
  auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  if (n < 0) n = 0;
  return to_target(fill_cpu({n}, opts.dtype, [&](int64_t i) { return start + double(i) * step; }), opts);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  KILN_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  double step = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
  // Like PyTorch, fill the second half from the end so that the last value is exact.
  int64_t half = steps / 2;
  return to_target(fill_cpu({steps}, opts.dtype,
                            [&](int64_t i) { return i < half || steps == 1 ? start + step * double(i)
                                                             : end - step * double(steps - 1 - i); }),
                   opts);
}

Tensor eye(int64_t n, int64_t m, TensorOptions opts) {
  if (m < 0) m = n;
  KILN_CHECK(n >= 0, "eye: n must be non-negative, got ", n);
  return to_target(fill_cpu({n, m}, opts.dtype, [&](int64_t i) { return i / m == i % m ? 1.0 : 0.0; }), opts);
}

Tensor rand(const Shape& shape, TensorOptions opts, Generator* gen) {
  KILN_CHECK(is_floating(opts.dtype), "rand: expected a floating dtype, got ", dtype_name(opts.dtype));
  Generator& g = gen ? *gen : default_generator();
  int64_t n = numel_of(shape);
  uint64_t seed = g.seed();
  Tensor t;
  if (opts.dtype == DType::Float32) {
    uint64_t base = g.reserve(uint64_t(n + 3) / 4);
    BlockStream stream(seed);
    t = fill_cpu(shape, opts.dtype, [&](int64_t i) {
      uint32_t u = stream.block(base + uint64_t(i) / 4)[size_t(i % 4)];
      return double(float(u >> 8) * 0x1.0p-24f);
    });
  } else {
    uint64_t base = g.reserve(uint64_t(n + 1) / 2);
    BlockStream stream(seed);
    t = fill_cpu(shape, opts.dtype, [&](int64_t i) {
      uint64_t w = words64(stream.block(base + uint64_t(i) / 2), i % 2);
      return double(w >> 11) * 0x1.0p-53;
    });
  }
  return to_target(t, opts);
}

Tensor randn(const Shape& shape, TensorOptions opts, Generator* gen) {
  KILN_CHECK(is_floating(opts.dtype), "randn: expected a floating dtype, got ", dtype_name(opts.dtype));
  Generator& g = gen ? *gen : default_generator();
  int64_t n = numel_of(shape);
  uint64_t seed = g.seed();
  uint64_t base = g.reserve(uint64_t(n + 3) / 4);
  BlockStream stream(seed);
  Tensor t = fill_cpu(shape, opts.dtype, [&](int64_t i) {
    const auto& w = stream.block(base + uint64_t(i) / 4);
    int lane = int(i % 4);
    int pair = lane / 2;
    double u1 = (double(w[2 * pair]) + 1.0) * 0x1.0p-32;
    double u2 = double(w[2 * pair + 1]) * 0x1.0p-32;
    double r = std::sqrt(-2.0 * std::log(u1));
    double theta = 2.0 * std::numbers::pi * u2;
    return lane % 2 == 0 ? r * std::cos(theta) : r * std::sin(theta);
  });
  return to_target(t, opts);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts, Generator* gen) {
  KILN_CHECK(high > low, "randint: expected low < high, got low=", low, ", high=", high);
  Generator& g = gen ? *gen : default_generator();
  int64_t n = numel_of(shape);
  uint64_t seed = g.seed();
  uint64_t base = g.reserve(uint64_t(n + 1) / 2);
  uint64_t range = uint64_t(high - low);
  BlockStream stream(seed);
  Tensor t = fill_cpu(shape, opts.dtype, [&](int64_t i) {
    uint64_t w = words64(stream.block(base + uint64_t(i) / 2), i % 2);
    return double(low + int64_t(w % range));
  });
  return to_target(t, opts);
}

Tensor randperm(int64_t n, TensorOptions opts, Generator* gen) {
  KILN_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  Generator& g = gen ? *gen : default_generator();
  uint64_t seed = g.seed();
  uint64_t base = g.reserve(uint64_t(n + 1) / 2);
  // Fisher-Yates, drawing the k-th swap partner from the k-th 64-bit word of the stream.
  std::vector<int64_t> perm(size_t(n > 0 ? n : 0));
  for (int64_t i = 0; i < n; ++i) perm[size_t(i)] = i;
  for (int64_t i = n - 1, k = 0; i > 0; --i, ++k) {
    uint64_t w = words64(philox_block(seed, base + uint64_t(k) / 2), k % 2);
    std::swap(perm[size_t(i)], perm[size_t(w % uint64_t(i + 1))]);
  }
  return to_target(tensor(perm, {n}, TensorOptions(opts.dtype)), opts);
}

Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.shape(), options_of(t), gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.shape(), options_of(t), gen); }

template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions opts) {
  KILN_CHECK(int64_t(values.size()) == numel_of(shape), "tensor: ", values.size(),
             " values do not fill shape ", shape, " (", numel_of(shape), " elements)");
  Tensor t = fill_cpu(shape, opts.dtype, [&](int64_t i) { return values[size_t(i)]; });
  return to_target(t, opts);
}

template Tensor tensor(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor tensor(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor tensor(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor tensor(const std::vector<uint8_t>&, const Shape&, TensorOptions);
template Tensor tensor(const std::vector<bool>&, const Shape&, TensorOptions);

Tensor from_blob(const void* data, const Shape& shape, DType dtype, TensorOptions opts) {
  Tensor t = empty(shape, dtype);
  copy_bytes(t.raw_data(), Device::cpu(), data, Device::cpu(), size_t(t.numel()) * element_size(dtype));
  if (opts.dtype != dtype) t = t.to(opts.dtype);
  return to_target(t, opts);
}

}  // namespace kiln
