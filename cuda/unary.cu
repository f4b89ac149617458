// CUDA kernels of the unary ops: one functor each over an element (with the op's scalar
// parameters a, b), run by the elementwise launcher of cuda/loops.cuh. Same semantics
// and dtypes as the CPU kernels in ops/cpu/unary.cpp. out, x: same shape; x may be strided.
#include <type_traits>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/loops.cuh"
#include "cuda/math.cuh"
#include "ops/kernels/unary.h"

namespace kiln {

namespace {

namespace m = cuda::math;

// Every functor holds the op's two scalar parameters, converted to T (unused by most).
template <typename T>
struct NegOp {
  T a, b;
  __device__ T operator()(T v) const { return T(-v); }
};
template <typename T>
struct ExpOp {
  T a, b;
  __device__ T operator()(T v) const { return m::exp(v); }
};
template <typename T>
struct LogOp {
  T a, b;
  __device__ T operator()(T v) const { return m::log(v); }
};
template <typename T>
struct Log1pOp {
  T a, b;
  __device__ T operator()(T v) const { return m::log1p(v); }
};
template <typename T>
struct SqrtOp {
  T a, b;
  __device__ T operator()(T v) const { return m::sqrt(v); }
};
template <typename T>
struct RsqrtOp {  // 1 / sqrt(v), rounded as on the CPU (not the faster rsqrt)
  T a, b;
  __device__ T operator()(T v) const { return T(1) / m::sqrt(v); }
};
template <typename T>
struct AbsOp {
  T a, b;
  __device__ T operator()(T v) const { return v < 0 ? T(-v) : v; }
};
template <typename T>
struct SignOp {
  T a, b;
  __device__ T operator()(T v) const { return T((v > 0) - (v < 0)); }
};
template <typename T>
struct SinOp {
  T a, b;
  __device__ T operator()(T v) const { return m::sin(v); }
};
template <typename T>
struct CosOp {
  T a, b;
  __device__ T operator()(T v) const { return m::cos(v); }
};
template <typename T>
struct ErfOp {
  T a, b;
  __device__ T operator()(T v) const { return m::erf(v); }
};
template <typename T>
struct SquareOp {  // pow(x, 2), taken apart as on the CPU
  T a, b;
  __device__ T operator()(T v) const { return v * v; }
};
template <typename T>
struct PowScalarOp {  // a: the exponent
  T a, b;
  __device__ T operator()(T v) const { return m::pow(v, a); }
};
template <typename T>
struct ClampOp {  // a, b: the bounds; NaN stays NaN (both comparisons are false)
  T a, b;
  __device__ T operator()(T v) const { return v < a ? a : (v > b ? b : v); }
};
template <typename T>
struct ReluOp {
  T a, b;
  __device__ T operator()(T v) const { return v > 0 ? v : T(0); }
};
template <typename T>
struct LeakyReluOp {  // a: the negative slope
  T a, b;
  __device__ T operator()(T v) const { return v > 0 ? v : v * a; }
};
template <typename T>
struct EluOp {  // a: alpha
  T a, b;
  __device__ T operator()(T v) const { return v > 0 ? v : a * m::expm1(v); }
};
template <typename T>
struct GeluOp {  // x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
  T a, b;
  __device__ T operator()(T v) const { return v * T(0.5) * (T(1) + m::erf(v * T(0.70710678118654752440))); }
};
template <typename T>
struct GeluTanhOp {  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  T a, b;
  __device__ T operator()(T v) const {
    return T(0.5) * v * (T(1) + m::tanh(T(0.79788456080286535588) * (v + T(0.044715) * v * v * v)));
  }
};
// Numerically stable logistic: never exponentiates a large positive number.
template <typename T>
__device__ T stable_sigmoid(T v) {
  if (v >= 0) return T(1) / (T(1) + m::exp(-v));
  T e = m::exp(v);
  return e / (T(1) + e);
}
template <typename T>
struct SiluOp {
  T a, b;
  __device__ T operator()(T v) const { return v * stable_sigmoid(v); }
};
template <typename T>
struct SigmoidOp {
  T a, b;
  __device__ T operator()(T v) const { return stable_sigmoid(v); }
};
template <typename T>
struct TanhOp {
  T a, b;
  __device__ T operator()(T v) const { return m::tanh(v); }
};
template <typename T>
struct SoftplusOp {  // a: beta, b: threshold above which softplus(x) = x
  T a, b;
  __device__ T operator()(T v) const { return v * a > b ? v : m::log1p(m::exp(v * a)) / a; }
};
template <typename T>
struct IsfiniteOp {
  __device__ bool operator()(T v) const { return m::is_finite(v); }
};
template <typename T>
struct IsnanOp {
  __device__ bool operator()(T v) const { return m::is_nan(v); }
};
template <typename T>
struct LogicalNotOp {
  __device__ bool operator()(T v) const { return !v; }
};

// out[i] = Op(x[i]) for floating x (float32/float64); a and b arrive in T.
template <template <typename> class Op>
void floating_map(const Tensor& out, const Tensor& x, double a, double b, const char* op) {
  dispatch_floating(x.dtype(), op, [&]<typename T>() { cuda::elementwise<T, T>(out, Op<T>{T(a), T(b)}, x); });
}

// The same for ops that also make sense on int64 (neg, abs, sign, relu).
template <template <typename> class Op>
void numeric_map(const Tensor& out, const Tensor& x, double a, double b, const char* op) {
  dispatch_numeric(x.dtype(), op, [&]<typename T>() { cuda::elementwise<T, T>(out, Op<T>{T(a), T(b)}, x); });
}

// Op over T's opmath type: loads T, runs Op<opmath_t<T>> (float32 for float16 and
// bfloat16) and rounds the result once to T; for the other types it is Op<T> itself.
template <template <typename> class Op, typename T>
struct InOpMath {
  Op<opmath_t<T>> op;
  __device__ T operator()(T v) const { return T(op(opmath_t<T>(v))); }
};

// floating_map and numeric_map with float16 and bfloat16 too, for the ops that opt in.
template <template <typename> class Op>
void floating_half_map(const Tensor& out, const Tensor& x, double a, double b, const char* op) {
  dispatch_floating_and_half(x.dtype(), op, [&]<typename T>() {
    using Acc = opmath_t<T>;
    cuda::elementwise<T, T>(out, InOpMath<Op, T>{{Acc(a), Acc(b)}}, x);
  });
}
template <template <typename> class Op>
void numeric_half_map(const Tensor& out, const Tensor& x, double a, double b, const char* op) {
  dispatch_numeric_and_half(x.dtype(), op, [&]<typename T>() {
    using Acc = opmath_t<T>;
    cuda::elementwise<T, T>(out, InOpMath<Op, T>{{Acc(a), Acc(b)}}, x);
  });
}

// bool out[i] = Op(x[i]) for any dtype.
template <template <typename> class Op>
void predicate_map(const Tensor& out, const Tensor& x) {
  dispatch_all(x.dtype(), [&]<typename T>() { cuda::elementwise<bool, T>(out, Op<T>{}, x); });
}

void neg_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  numeric_half_map<NegOp>(o, x, a, b, "neg");
}
void exp_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_half_map<ExpOp>(o, x, a, b, "exp");
}
void log_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_half_map<LogOp>(o, x, a, b, "log");
}
void log1p_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<Log1pOp>(o, x, a, b, "log1p");
}
void sqrt_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_half_map<SqrtOp>(o, x, a, b, "sqrt");
}
void rsqrt_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<RsqrtOp>(o, x, a, b, "rsqrt");
}
void abs_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) { numeric_map<AbsOp>(o, x, a, b, "abs"); }
void sign_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  numeric_map<SignOp>(o, x, a, b, "sign");
}
void sin_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) { floating_map<SinOp>(o, x, a, b, "sin"); }
void cos_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) { floating_map<CosOp>(o, x, a, b, "cos"); }
void erf_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) { floating_map<ErfOp>(o, x, a, b, "erf"); }
void pow_scalar_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  if (a == 2.0) return floating_map<SquareOp>(o, x, a, b, "pow");
  floating_map<PowScalarOp>(o, x, a, b, "pow");
}
void clamp_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<ClampOp>(o, x, a, b, "clamp");
}
void relu_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  numeric_half_map<ReluOp>(o, x, a, b, "relu");
}
void leaky_relu_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<LeakyReluOp>(o, x, a, b, "leaky_relu");
}
void elu_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) { floating_map<EluOp>(o, x, a, b, "elu"); }
void gelu_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<GeluOp>(o, x, a, b, "gelu");
}
void gelu_tanh_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<GeluTanhOp>(o, x, a, b, "gelu");
}
void silu_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<SiluOp>(o, x, a, b, "silu");
}
void sigmoid_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_half_map<SigmoidOp>(o, x, a, b, "sigmoid");
}
void tanh_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_half_map<TanhOp>(o, x, a, b, "tanh");
}
void softplus_forward_cuda(const Tensor& o, const Tensor& x, double a, double b) {
  floating_map<SoftplusOp>(o, x, a, b, "softplus");
}
void isfinite_forward_cuda(const Tensor& o, const Tensor& x, double, double) { predicate_map<IsfiniteOp>(o, x); }
void isnan_forward_cuda(const Tensor& o, const Tensor& x, double, double) { predicate_map<IsnanOp>(o, x); }
void logical_not_forward_cuda(const Tensor& o, const Tensor& x, double, double) {
  predicate_map<LogicalNotOp>(o, x);
}

}  // namespace

KILN_REGISTER_KERNEL(neg_stub, DeviceType::CUDA, neg_forward_cuda);
KILN_REGISTER_KERNEL(exp_stub, DeviceType::CUDA, exp_forward_cuda);
KILN_REGISTER_KERNEL(log_stub, DeviceType::CUDA, log_forward_cuda);
KILN_REGISTER_KERNEL(log1p_stub, DeviceType::CUDA, log1p_forward_cuda);
KILN_REGISTER_KERNEL(sqrt_stub, DeviceType::CUDA, sqrt_forward_cuda);
KILN_REGISTER_KERNEL(rsqrt_stub, DeviceType::CUDA, rsqrt_forward_cuda);
KILN_REGISTER_KERNEL(abs_stub, DeviceType::CUDA, abs_forward_cuda);
KILN_REGISTER_KERNEL(sign_stub, DeviceType::CUDA, sign_forward_cuda);
KILN_REGISTER_KERNEL(sin_stub, DeviceType::CUDA, sin_forward_cuda);
KILN_REGISTER_KERNEL(cos_stub, DeviceType::CUDA, cos_forward_cuda);
KILN_REGISTER_KERNEL(erf_stub, DeviceType::CUDA, erf_forward_cuda);
KILN_REGISTER_KERNEL(pow_scalar_stub, DeviceType::CUDA, pow_scalar_forward_cuda);
KILN_REGISTER_KERNEL(clamp_stub, DeviceType::CUDA, clamp_forward_cuda);
KILN_REGISTER_KERNEL(relu_stub, DeviceType::CUDA, relu_forward_cuda);
KILN_REGISTER_KERNEL(leaky_relu_stub, DeviceType::CUDA, leaky_relu_forward_cuda);
KILN_REGISTER_KERNEL(elu_stub, DeviceType::CUDA, elu_forward_cuda);
KILN_REGISTER_KERNEL(gelu_stub, DeviceType::CUDA, gelu_forward_cuda);
KILN_REGISTER_KERNEL(gelu_tanh_stub, DeviceType::CUDA, gelu_tanh_forward_cuda);
KILN_REGISTER_KERNEL(silu_stub, DeviceType::CUDA, silu_forward_cuda);
KILN_REGISTER_KERNEL(sigmoid_stub, DeviceType::CUDA, sigmoid_forward_cuda);
KILN_REGISTER_KERNEL(tanh_stub, DeviceType::CUDA, tanh_forward_cuda);
KILN_REGISTER_KERNEL(softplus_stub, DeviceType::CUDA, softplus_forward_cuda);
KILN_REGISTER_KERNEL(isfinite_stub, DeviceType::CUDA, isfinite_forward_cuda);
KILN_REGISTER_KERNEL(isnan_stub, DeviceType::CUDA, isnan_forward_cuda);
KILN_REGISTER_KERNEL(logical_not_stub, DeviceType::CUDA, logical_not_forward_cuda);

}  // namespace kiln
