// CPU kernels of the unary ops: each is one lambda over an element (and the op's
// scalar parameters a, b), run by the elementwise iterator of ops/cpu/loops.h; relu, neg,
// exp, sigmoid and tanh on float32 also have SIMD kernels (ops/cpu/elementwise_simd.h).
// neg, relu, exp, log, sqrt, sigmoid and tanh take float16 and bfloat16 as well.
// out, x: same shape; x may be strided.
#include <cmath>
#include <type_traits>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/elementwise_simd.h"
#include "ops/cpu/loops.h"
#include "ops/kernels/unary.h"

namespace kiln {

namespace {

// out[i] = f(x[i], a, b) for floating x (float32/float64); a and b arrive in T.
template <typename F>
void floating_map(const Tensor& out, const Tensor& x, double a, double b, const char* op, F f) {
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    T ta = T(a), tb = T(b);
    cpu::elementwise<T, T>(out, [=](T v) { return f(v, ta, tb); }, x);
  });
}

// The same for ops that also make sense on int64 (neg, abs, sign, relu, clamp).
template <typename F>
void numeric_map(const Tensor& out, const Tensor& x, double a, double b, const char* op, F f) {
  dispatch_numeric(x.dtype(), op, [&]<typename T>() {
    T ta = T(a), tb = T(b);
    cpu::elementwise<T, T>(out, [=](T v) { return f(v, ta, tb); }, x);
  });
}

// float32 x through the active ISA's SIMD kernel for `op` (unit-stride runs; other runs
// take the scalar f(v, 0, 0), which the kernel is tested against); returns false, having
// done nothing, when x is not float32 or the ISA is Generic.
// See Note [SIMD elementwise kernels].
template <typename F>
bool simd_map(const Tensor& out, const Tensor& x, cpu::SimdUnaryOp op, F f) {
  const cpu::SimdElementwise* kernels = cpu::simd_elementwise();
  if (kernels == nullptr || x.dtype() != kFloat32 || out.dtype() != kFloat32) return false;
  const bool stream =
      out.raw_data() != x.raw_data() && cpu::use_streaming_stores(out.numel() * int64_t(sizeof(float)));
  cpu::elementwise_runs<float, float>(
      out, [=](float v) { return f(v, 0.0f, 0.0f); },
      [&](const std::array<char*, 2>& p, const std::array<int64_t, 2>& s, int64_t n) {
        if (s[0] != int64_t(sizeof(float)) || s[1] != int64_t(sizeof(float))) return false;
        kernels->unary(op, reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), n, stream);
        return true;
      },
      x);
  return true;
}

// floating_map (kNumeric false) and numeric_map (true) with float16 and bfloat16 too, for
// the ops that opt in: f runs in opmath_t<T> (float32 for the 16-bit types) and its
// result is rounded once.
template <bool kNumeric, typename F>
void half_map(const Tensor& out, const Tensor& x, double a, double b, const char* op, F f) {
  auto run = [&]<typename T>() {
    using Acc = opmath_t<T>;
    Acc ta = Acc(a), tb = Acc(b);
    cpu::elementwise<T, T>(out, [=](T v) { return T(f(Acc(v), ta, tb)); }, x);
  };
  if constexpr (kNumeric) {
    dispatch_numeric_and_half(x.dtype(), op, run);
  } else {
    dispatch_floating_and_half(x.dtype(), op, run);
  }
}
template <typename F>
void floating_half_map(const Tensor& out, const Tensor& x, double a, double b, const char* op, F f) {
  half_map<false>(out, x, a, b, op, f);
}
template <typename F>
void numeric_half_map(const Tensor& out, const Tensor& x, double a, double b, const char* op, F f) {
  half_map<true>(out, x, a, b, op, f);
}

// bool out[i] = f(x[i]) for any dtype.
template <typename F>
void predicate_map(const Tensor& out, const Tensor& x, F f) {
  dispatch_all(x.dtype(), [&]<typename T>() { cpu::elementwise<bool, T>(out, [=](T v) { return f(v); }, x); });
}

// Numerically stable logistic: never exponentiates a large positive number.
template <typename T>
T stable_sigmoid(T v) {
  if (v >= 0) return T(1) / (T(1) + std::exp(-v));
  T e = std::exp(v);
  return e / (T(1) + e);
}

void neg_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  constexpr auto f = [](auto v, auto, auto) { return decltype(v)(-v); };
  if (simd_map(o, x, cpu::SimdUnaryOp::Neg, f)) return;
  numeric_half_map(o, x, a, b, "neg", f);
}
void exp_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  constexpr auto f = [](auto v, auto, auto) { return std::exp(v); };
  if (simd_map(o, x, cpu::SimdUnaryOp::Exp, f)) return;
  floating_half_map(o, x, a, b, "exp", f);
}
void log_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_half_map(o, x, a, b, "log", [](auto v, auto, auto) { return std::log(v); });
}
void log1p_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "log1p", [](auto v, auto, auto) { return std::log1p(v); });
}
void sqrt_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_half_map(o, x, a, b, "sqrt", [](auto v, auto, auto) { return std::sqrt(v); });
}
void rsqrt_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "rsqrt", [](auto v, auto, auto) { return decltype(v)(1) / std::sqrt(v); });
}
void abs_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  numeric_map(o, x, a, b, "abs", [](auto v, auto, auto) { return v < 0 ? decltype(v)(-v) : v; });
}
void sign_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  numeric_map(o, x, a, b, "sign", [](auto v, auto, auto) { return decltype(v)((v > 0) - (v < 0)); });
}
void sin_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "sin", [](auto v, auto, auto) { return std::sin(v); });
}
void cos_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "cos", [](auto v, auto, auto) { return std::cos(v); });
}
void erf_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "erf", [](auto v, auto, auto) { return std::erf(v); });
}
void pow_scalar_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  // Squares and square roots are common (norms, variances): skip the general pow.
  if (a == 2.0) return floating_map(o, x, a, b, "pow", [](auto v, auto, auto) { return v * v; });
  floating_map(o, x, a, b, "pow", [](auto v, auto p, auto) { return std::pow(v, p); });
}
void clamp_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  // NaN stays NaN, as in PyTorch: the comparisons are false for NaN.
  floating_map(o, x, a, b, "clamp", [](auto v, auto lo, auto hi) { return v < lo ? lo : (v > hi ? hi : v); });
}
void relu_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  constexpr auto f = [](auto v, auto, auto) { return v > 0 ? v : decltype(v)(0); };
  if (simd_map(o, x, cpu::SimdUnaryOp::Relu, f)) return;
  numeric_half_map(o, x, a, b, "relu", f);
}
void leaky_relu_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "leaky_relu", [](auto v, auto slope, auto) { return v > 0 ? v : v * slope; });
}
void elu_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "elu", [](auto v, auto alpha, auto) { return v > 0 ? v : alpha * std::expm1(v); });
}
void gelu_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  // x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
  floating_map(o, x, a, b, "gelu", [](auto v, auto, auto) {
    using T = decltype(v);
    return v * T(0.5) * (T(1) + std::erf(v * T(0.70710678118654752440)));
  });
}
void gelu_tanh_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  // x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  floating_map(o, x, a, b, "gelu", [](auto v, auto, auto) {
    using T = decltype(v);
    return T(0.5) * v * (T(1) + std::tanh(T(0.79788456080286535588) * (v + T(0.044715) * v * v * v)));
  });
}
void silu_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "silu", [](auto v, auto, auto) { return v * stable_sigmoid(v); });
}
void sigmoid_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  constexpr auto f = [](auto v, auto, auto) { return stable_sigmoid(v); };
  if (simd_map(o, x, cpu::SimdUnaryOp::Sigmoid, f)) return;
  floating_half_map(o, x, a, b, "sigmoid", f);
}
void tanh_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  // float through double: glibc's tanhf is up to 2 ulp off, the double tanh rounded once
  // is within about half an ulp, and it takes no longer (7.0 against 7.2 ns an element).
  constexpr auto f = [](auto v, auto, auto) {
    if constexpr (std::is_same_v<decltype(v), float>) return float(std::tanh(double(v)));
    else return std::tanh(v);
  };
  if (simd_map(o, x, cpu::SimdUnaryOp::Tanh, f)) return;
  floating_half_map(o, x, a, b, "tanh", f);
}
void softplus_forward_cpu(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map(o, x, a, b, "softplus", [](auto v, auto beta, auto threshold) {
    return v * beta > threshold ? v : std::log1p(std::exp(v * beta)) / beta;
  });
}
void isfinite_forward_cpu(const Tensor& o, const Tensor& x, double, double) {
  predicate_map(o, x, [](auto v) {
    using T = decltype(v);
    if constexpr (std::is_floating_point_v<T>) return bool(std::isfinite(v));
    else if constexpr (is_16bit_float_v<T>) return bool(std::isfinite(float(v)));
    else return true;
  });
}
void isnan_forward_cpu(const Tensor& o, const Tensor& x, double, double) {
  predicate_map(o, x, [](auto v) { return v != v; });
}
void logical_not_forward_cpu(const Tensor& o, const Tensor& x, double, double) {
  predicate_map(o, x, [](auto v) { return !v; });
}

}  // namespace

KILN_REGISTER_KERNEL(neg_stub, DeviceType::CPU, neg_forward_cpu);
KILN_REGISTER_KERNEL(exp_stub, DeviceType::CPU, exp_forward_cpu);
KILN_REGISTER_KERNEL(log_stub, DeviceType::CPU, log_forward_cpu);
KILN_REGISTER_KERNEL(log1p_stub, DeviceType::CPU, log1p_forward_cpu);
KILN_REGISTER_KERNEL(sqrt_stub, DeviceType::CPU, sqrt_forward_cpu);
KILN_REGISTER_KERNEL(rsqrt_stub, DeviceType::CPU, rsqrt_forward_cpu);
KILN_REGISTER_KERNEL(abs_stub, DeviceType::CPU, abs_forward_cpu);
KILN_REGISTER_KERNEL(sign_stub, DeviceType::CPU, sign_forward_cpu);
KILN_REGISTER_KERNEL(sin_stub, DeviceType::CPU, sin_forward_cpu);
KILN_REGISTER_KERNEL(cos_stub, DeviceType::CPU, cos_forward_cpu);
KILN_REGISTER_KERNEL(erf_stub, DeviceType::CPU, erf_forward_cpu);
KILN_REGISTER_KERNEL(pow_scalar_stub, DeviceType::CPU, pow_scalar_forward_cpu);
KILN_REGISTER_KERNEL(clamp_stub, DeviceType::CPU, clamp_forward_cpu);
KILN_REGISTER_KERNEL(relu_stub, DeviceType::CPU, relu_forward_cpu);
KILN_REGISTER_KERNEL(leaky_relu_stub, DeviceType::CPU, leaky_relu_forward_cpu);
KILN_REGISTER_KERNEL(elu_stub, DeviceType::CPU, elu_forward_cpu);
KILN_REGISTER_KERNEL(gelu_stub, DeviceType::CPU, gelu_forward_cpu);
KILN_REGISTER_KERNEL(gelu_tanh_stub, DeviceType::CPU, gelu_tanh_forward_cpu);
KILN_REGISTER_KERNEL(silu_stub, DeviceType::CPU, silu_forward_cpu);
KILN_REGISTER_KERNEL(sigmoid_stub, DeviceType::CPU, sigmoid_forward_cpu);
KILN_REGISTER_KERNEL(tanh_stub, DeviceType::CPU, tanh_forward_cpu);
KILN_REGISTER_KERNEL(softplus_stub, DeviceType::CPU, softplus_forward_cpu);
KILN_REGISTER_KERNEL(isfinite_stub, DeviceType::CPU, isfinite_forward_cpu);
KILN_REGISTER_KERNEL(isnan_stub, DeviceType::CPU, isnan_forward_cpu);
KILN_REGISTER_KERNEL(logical_not_stub, DeviceType::CPU, logical_not_forward_cpu);

}  // namespace kiln
