// CPU kernels of the binary ops: one lambda each over a pair of elements, run by the
// broadcasting elementwise iterator of ops/cpu/loops.h; add, sub, mul and div on float32
// also have SIMD kernels (ops/cpu/elementwise_simd.h).
// out: broadcast shape; a, b: same dtype (the op converted them), any strides.
#include <algorithm>
#include <cmath>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/cpu/elementwise_simd.h"
#include "ops/cpu/loops.h"
#include "ops/kernels/binary.h"

namespace kiln {

namespace {

// out[i] = f(a[i], b[i], alpha) in the inputs' dtype (float32, float64, int64, float16,
// bfloat16); the 16-bit types compute f in float32 and round once (opmath_t).
template <typename F>
void arith_map(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, const char* op, F f) {
  dispatch_numeric_and_half(a.dtype(), op, [&]<typename T>() {
    using Acc = opmath_t<T>;
    Acc al = Acc(alpha);
    cpu::elementwise<T, T, T>(out, [=](T x, T y) { return T(f(Acc(x), Acc(y), al)); }, a, b);
  });
}

// float32 a, b through the active ISA's SIMD kernel for `op`: runs where out and both
// inputs have unit strides, or one input stride 0 (a broadcast scalar or a bias row's
// element); other runs take the scalar f, which the kernel is tested against. Returns
// false, having done nothing, when the inputs are not float32 or the ISA is Generic.
// See Note [SIMD elementwise kernels].
template <typename F>
bool simd_map(const Tensor& out, const Tensor& a, const Tensor& b, cpu::SimdBinaryOp op, F f) {
  const cpu::SimdElementwise* kernels = cpu::simd_elementwise();
  if (kernels == nullptr || a.dtype() != kFloat32 || b.dtype() != kFloat32 || out.dtype() != kFloat32) return false;
  const bool stream = out.raw_data() != a.raw_data() && out.raw_data() != b.raw_data() &&
                      cpu::use_streaming_stores(out.numel() * int64_t(sizeof(float)));
  constexpr int64_t kUnit = sizeof(float);
  cpu::elementwise_runs<float, float, float>(
      out, f,
      [&](const std::array<char*, 3>& p, const std::array<int64_t, 3>& s, int64_t n) {
        const bool a_ok = s[1] == kUnit || s[1] == 0, b_ok = s[2] == kUnit || s[2] == 0;
        if (s[0] != kUnit || !a_ok || !b_ok || (s[1] == 0 && s[2] == 0)) return false;
        kernels->binary(op, reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), s[1] == 0,
                        reinterpret_cast<const float*>(p[2]), s[2] == 0, n, stream);
        return true;
      },
      a, b);
  return true;
}

// bool out[i] = f(a[i], b[i]) for any dtype.
template <typename F>
void compare_map(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  dispatch_all(a.dtype(), [&]<typename T>() { cpu::elementwise<bool, T, T>(out, [=](T x, T y) { return f(x, y); }, a, b); });
}

void add_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  // x + alpha y is x + y or x - y exactly when alpha is 1 or -1 (sub); other alphas stay
  // scalar, where x + alpha y rounds twice as in the reference.
  if (alpha == 1.0) {
    if (simd_map(o, a, b, cpu::SimdBinaryOp::Add, [](float x, float y) { return x + y; })) return;
    return arith_map(o, a, b, alpha, "add", [](auto x, auto y, auto) { return x + y; });
  }
  if (alpha == -1.0 && simd_map(o, a, b, cpu::SimdBinaryOp::Sub, [](float x, float y) { return x - y; })) return;
  arith_map(o, a, b, alpha, "add", [](auto x, auto y, auto al) { return x + al * y; });
}
void mul_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  if (simd_map(o, a, b, cpu::SimdBinaryOp::Mul, [](float x, float y) { return x * y; })) return;
  arith_map(o, a, b, alpha, "mul", [](auto x, auto y, auto) { return x * y; });
}
void div_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  if (simd_map(o, a, b, cpu::SimdBinaryOp::Div, [](float x, float y) { return x / y; })) return;
  dispatch_floating_and_half(a.dtype(), "div", [&]<typename T>() {
    using Acc = opmath_t<T>;
    cpu::elementwise<T, T, T>(o, [](T x, T y) { return T(Acc(x) / Acc(y)); }, a, b);
  });
}
void pow_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  dispatch_floating(a.dtype(), "pow", [&]<typename T>() {
    cpu::elementwise<T, T, T>(o, [](T x, T y) { return std::pow(x, y); }, a, b);
  });
}
// NaN propagates through maximum/minimum, as in PyTorch.
void maximum_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  arith_map(o, a, b, alpha, "maximum", [](auto x, auto y, auto) { return (x != x || x > y) ? x : y; });
}
void minimum_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  arith_map(o, a, b, alpha, "minimum", [](auto x, auto y, auto) { return (x != x || x < y) ? x : y; });
}
void eq_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return x == y; });
}
void ne_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return x != y; });
}
void lt_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return x < y; });
}
void le_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return x <= y; });
}
void gt_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return x > y; });
}
void ge_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return x >= y; });
}
void logical_and_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return bool(x) && bool(y); });
}
void logical_or_forward_cpu(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map(o, a, b, [](auto x, auto y) { return bool(x) || bool(y); });
}

// out[i] = cond[i] ? a[i] : b[i]; cond is bool, a and b have out's dtype.
void where_forward_cpu(const Tensor& o, const Tensor& cond, const Tensor& a, const Tensor& b) {
  dispatch_all(o.dtype(), [&]<typename T>() {
    cpu::elementwise<T, bool, T, T>(o, [](bool c, T x, T y) { return c ? x : y; }, cond, a, b);
  });
}

}  // namespace

KILN_REGISTER_KERNEL(add_stub, DeviceType::CPU, add_forward_cpu);
KILN_REGISTER_KERNEL(mul_stub, DeviceType::CPU, mul_forward_cpu);
KILN_REGISTER_KERNEL(div_stub, DeviceType::CPU, div_forward_cpu);
KILN_REGISTER_KERNEL(pow_stub, DeviceType::CPU, pow_forward_cpu);
KILN_REGISTER_KERNEL(maximum_stub, DeviceType::CPU, maximum_forward_cpu);
KILN_REGISTER_KERNEL(minimum_stub, DeviceType::CPU, minimum_forward_cpu);
KILN_REGISTER_KERNEL(eq_stub, DeviceType::CPU, eq_forward_cpu);
KILN_REGISTER_KERNEL(ne_stub, DeviceType::CPU, ne_forward_cpu);
KILN_REGISTER_KERNEL(lt_stub, DeviceType::CPU, lt_forward_cpu);
KILN_REGISTER_KERNEL(le_stub, DeviceType::CPU, le_forward_cpu);
KILN_REGISTER_KERNEL(gt_stub, DeviceType::CPU, gt_forward_cpu);
KILN_REGISTER_KERNEL(ge_stub, DeviceType::CPU, ge_forward_cpu);
KILN_REGISTER_KERNEL(logical_and_stub, DeviceType::CPU, logical_and_forward_cpu);
KILN_REGISTER_KERNEL(logical_or_stub, DeviceType::CPU, logical_or_forward_cpu);
KILN_REGISTER_KERNEL(where_stub, DeviceType::CPU, where_forward_cpu);

}  // namespace kiln
