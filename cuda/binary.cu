// CUDA kernels of the binary ops and where: one functor each over a pair of elements,
// run by the broadcasting elementwise launcher of cuda/loops.cuh. Same semantics and
// dtypes as ops/cpu/binary.cpp (add, sub, mul, div also take float16 and bfloat16).
// out: broadcast shape; a, b: same dtype (the op converted them), any strides.
#include "core/dispatch.h"
#include "core/tensor.h"
#include "cuda/loops.cuh"
#include "cuda/math.cuh"
#include "ops/kernels/binary.h"

namespace kiln {

namespace {

namespace m = cuda::math;

// Arithmetic functors hold alpha (the scale of b in add/sub), converted to T.
template <typename T>
struct AddOp {
  T alpha;
  __device__ T operator()(T x, T y) const { return x + y; }
};
template <typename T>
struct AddScaledOp {
  T alpha;
  __device__ T operator()(T x, T y) const { return x + alpha * y; }
};
template <typename T>
struct MulOp {
  T alpha;
  __device__ T operator()(T x, T y) const { return x * y; }
};
template <typename T>
struct DivOp {
  T alpha;
  __device__ T operator()(T x, T y) const { return x / y; }
};
template <typename T>
struct PowOp {
  T alpha;
  __device__ T operator()(T x, T y) const { return m::pow(x, y); }
};
// NaN propagates through maximum/minimum, as in PyTorch.
template <typename T>
struct MaximumOp {
  T alpha;
  __device__ T operator()(T x, T y) const { return (m::is_nan(x) || x > y) ? x : y; }
};
template <typename T>
struct MinimumOp {
  T alpha;
  __device__ T operator()(T x, T y) const { return (m::is_nan(x) || x < y) ? x : y; }
};

template <typename T>
struct EqOp {
  __device__ bool operator()(T x, T y) const { return x == y; }
};
template <typename T>
struct NeOp {
  __device__ bool operator()(T x, T y) const { return x != y; }
};
template <typename T>
struct LtOp {
  __device__ bool operator()(T x, T y) const { return x < y; }
};
template <typename T>
struct LeOp {
  __device__ bool operator()(T x, T y) const { return x <= y; }
};
template <typename T>
struct GtOp {
  __device__ bool operator()(T x, T y) const { return x > y; }
};
template <typename T>
struct GeOp {
  __device__ bool operator()(T x, T y) const { return x >= y; }
};
template <typename T>
struct LogicalAndOp {
  __device__ bool operator()(T x, T y) const { return bool(x) && bool(y); }
};
template <typename T>
struct LogicalOrOp {
  __device__ bool operator()(T x, T y) const { return bool(x) || bool(y); }
};

template <typename T>
struct WhereOp {
  __device__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

// Op over T's opmath type: loads T, runs Op<opmath_t<T>> (float32 for float16 and
// bfloat16) and rounds the result once to T; for the other types it is Op<T> itself.
template <template <typename> class Op, typename T>
struct InOpMath {
  Op<opmath_t<T>> op;
  __device__ T operator()(T x, T y) const { return T(op(opmath_t<T>(x), opmath_t<T>(y))); }
};

// add, sub, mul, div: the same with float16 and bfloat16 too.
template <template <typename> class Op>
void arith_half_map(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, const char* op) {
  dispatch_numeric_and_half(a.dtype(), op, [&]<typename T>() {
    cuda::elementwise<T, T, T>(out, InOpMath<Op, T>{{opmath_t<T>(alpha)}}, a, b);
  });
}
template <template <typename> class Op>
void floating_half_map(const Tensor& out, const Tensor& a, const Tensor& b, const char* op) {
  dispatch_floating_and_half(a.dtype(), op, [&]<typename T>() {
    cuda::elementwise<T, T, T>(out, InOpMath<Op, T>{{opmath_t<T>(1)}}, a, b);
  });
}

// out[i] = Op(a[i], b[i]) in the inputs' dtype (float32, float64, int64).
template <template <typename> class Op>
void arith_map(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, const char* op) {
  dispatch_numeric(a.dtype(), op, [&]<typename T>() { cuda::elementwise<T, T, T>(out, Op<T>{T(alpha)}, a, b); });
}

// The same for float32/float64 only (true division, pow).
template <template <typename> class Op>
void floating_map(const Tensor& out, const Tensor& a, const Tensor& b, const char* op) {
  dispatch_floating(a.dtype(), op, [&]<typename T>() { cuda::elementwise<T, T, T>(out, Op<T>{T(1)}, a, b); });
}

// bool out[i] = Op(a[i], b[i]) for any dtype.
template <template <typename> class Op>
void compare_map(const Tensor& out, const Tensor& a, const Tensor& b) {
  dispatch_all(a.dtype(), [&]<typename T>() { cuda::elementwise<bool, T, T>(out, Op<T>{}, a, b); });
}

void add_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  if (alpha == 1.0) return arith_half_map<AddOp>(o, a, b, alpha, "add");
  arith_half_map<AddScaledOp>(o, a, b, alpha, "add");
}
void mul_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  arith_half_map<MulOp>(o, a, b, alpha, "mul");
}
void div_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  floating_half_map<DivOp>(o, a, b, "div");
}
void pow_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  floating_map<PowOp>(o, a, b, "pow");
}
void maximum_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  arith_map<MaximumOp>(o, a, b, alpha, "maximum");
}
void minimum_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double alpha) {
  arith_map<MinimumOp>(o, a, b, alpha, "minimum");
}
void eq_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) { compare_map<EqOp>(o, a, b); }
void ne_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) { compare_map<NeOp>(o, a, b); }
void lt_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) { compare_map<LtOp>(o, a, b); }
void le_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) { compare_map<LeOp>(o, a, b); }
void gt_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) { compare_map<GtOp>(o, a, b); }
void ge_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) { compare_map<GeOp>(o, a, b); }
void logical_and_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map<LogicalAndOp>(o, a, b);
}
void logical_or_forward_cuda(const Tensor& o, const Tensor& a, const Tensor& b, double) {
  compare_map<LogicalOrOp>(o, a, b);
}

// out[i] = cond[i] ? a[i] : b[i]; cond is bool, a and b have out's dtype.
void where_forward_cuda(const Tensor& o, const Tensor& cond, const Tensor& a, const Tensor& b) {
  dispatch_all(o.dtype(), [&]<typename T>() { cuda::elementwise<T, bool, T, T>(o, WhereOp<T>{}, cond, a, b); });
}

}  // namespace

KILN_REGISTER_KERNEL(add_stub, DeviceType::CUDA, add_forward_cuda);
KILN_REGISTER_KERNEL(mul_stub, DeviceType::CUDA, mul_forward_cuda);
KILN_REGISTER_KERNEL(div_stub, DeviceType::CUDA, div_forward_cuda);
KILN_REGISTER_KERNEL(pow_stub, DeviceType::CUDA, pow_forward_cuda);
KILN_REGISTER_KERNEL(maximum_stub, DeviceType::CUDA, maximum_forward_cuda);
KILN_REGISTER_KERNEL(minimum_stub, DeviceType::CUDA, minimum_forward_cuda);
KILN_REGISTER_KERNEL(eq_stub, DeviceType::CUDA, eq_forward_cuda);
KILN_REGISTER_KERNEL(ne_stub, DeviceType::CUDA, ne_forward_cuda);
KILN_REGISTER_KERNEL(lt_stub, DeviceType::CUDA, lt_forward_cuda);
KILN_REGISTER_KERNEL(le_stub, DeviceType::CUDA, le_forward_cuda);
KILN_REGISTER_KERNEL(gt_stub, DeviceType::CUDA, gt_forward_cuda);
KILN_REGISTER_KERNEL(ge_stub, DeviceType::CUDA, ge_forward_cuda);
KILN_REGISTER_KERNEL(logical_and_stub, DeviceType::CUDA, logical_and_forward_cuda);
KILN_REGISTER_KERNEL(logical_or_stub, DeviceType::CUDA, logical_or_forward_cuda);
KILN_REGISTER_KERNEL(where_stub, DeviceType::CUDA, where_forward_cuda);

}  // namespace kiln
