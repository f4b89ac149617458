// Elementwise functions of two tensors: broadcasting, type promotion, forward and
// backward of each op side by side. Kernels are one lambda each in ops/cpu/binary.cpp.
// The backward of broadcasting is sum_to: a gradient is summed over the dims that
// broadcasting expanded, back to its input's shape.
#include "ops/binary.h"

#include <cmath>

#include "autograd/function.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/kernels/binary.h"
#include "ops/unary.h"
#include "ops/view.h"

namespace kiln {

KILN_DEFINE_STUB(add_stub, "add", BinaryKernel);
KILN_DEFINE_STUB(mul_stub, "mul", BinaryKernel);
KILN_DEFINE_STUB(div_stub, "div", BinaryKernel);
KILN_DEFINE_STUB(pow_stub, "pow", BinaryKernel);
KILN_DEFINE_STUB(maximum_stub, "maximum", BinaryKernel);
KILN_DEFINE_STUB(minimum_stub, "minimum", BinaryKernel);
KILN_DEFINE_STUB(eq_stub, "eq", BinaryKernel);
KILN_DEFINE_STUB(ne_stub, "ne", BinaryKernel);
KILN_DEFINE_STUB(lt_stub, "lt", BinaryKernel);
KILN_DEFINE_STUB(le_stub, "le", BinaryKernel);
KILN_DEFINE_STUB(gt_stub, "gt", BinaryKernel);
KILN_DEFINE_STUB(ge_stub, "ge", BinaryKernel);
KILN_DEFINE_STUB(logical_and_stub, "logical_and", BinaryKernel);
KILN_DEFINE_STUB(logical_or_stub, "logical_or", BinaryKernel);
KILN_DEFINE_STUB(where_stub, "where", void(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b));

namespace {

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  KILN_CHECK(a.device() == b.device(), op, ": expected both tensors on the same device, got ", a.meta_str(),
             " and ", b.meta_str());
}

// Runs a binary kernel: broadcast shape, inputs converted to `compute` dtype, output
// of `out_dtype` (the compute dtype, or bool for comparisons).
Tensor run(const DispatchStub<BinaryKernel>& stub, const Tensor& a, const Tensor& b, DType compute, DType out_dtype,
           double alpha, const char* op) {
  check_same_device(a, b, op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, TensorOptions(out_dtype).with_device(a.device()));
  stub(a.device(), out, to_dtype(a, compute), to_dtype(b, compute), alpha);
  return out;
}

Tensor run_arith(const DispatchStub<BinaryKernel>& stub, const Tensor& a, const Tensor& b, double alpha,
                 const char* op) {
  DType t = promote_types(a.dtype(), b.dtype());
  return run(stub, a, b, t, t, alpha, op);
}

// The gradient for an input: summed back over broadcast dims, in the input's dtype.
Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dtype) {
  Tensor r = sum_to(g, shape);
  return r.dtype() == dtype ? r : r.to(dtype);
}

struct InputMeta {
  Shape shape;
  DType dtype = kFloat32;
  void set(const Tensor& t) { shape = t.shape(), dtype = t.dtype(); }
  Tensor grad(const Tensor& g) const { return is_floating(dtype) ? reduce_grad(g, shape, dtype) : Tensor(); }
};

struct Add : Function<Add> {  // a + alpha b
  static constexpr const char* kName = "add";
  InputMeta ma, mb;
  double alpha = 1;
  Tensor forward(const Tensor& a, const Tensor& b, double alpha_) {
    ma.set(a), mb.set(b), alpha = alpha_;
    return run_arith(add_stub, a, b, alpha_, kName);
  }
  TensorList backward(const Tensor& g) { return {ma.grad(g), mb.grad(alpha == 1.0 ? g : g * alpha)}; }
};

struct Mul : Function<Mul> {  // d(ab) = b da + a db
  static constexpr const char* kName = "mul";
  InputMeta ma, mb;
  Tensor forward(const Tensor& a, const Tensor& b) {
    ma.set(a), mb.set(b);
    save(a, b);
    return run_arith(mul_stub, a, b, 1.0, kName);
  }
  TensorList backward(const Tensor& g) {
    auto [a, b] = saved<2>();
    return {needs_input_grad(0) ? ma.grad(g * b) : Tensor(), needs_input_grad(1) ? mb.grad(g * a) : Tensor()};
  }
};

struct Div : Function<Div> {  // d(a/b) = da / b - a db / b^2
  static constexpr const char* kName = "div";
  InputMeta ma, mb;
  Tensor forward(const Tensor& a, const Tensor& b) {
    ma.set(a), mb.set(b);
    save(a, b);
    // True division: integer inputs give a float result, as in PyTorch.
    DType t = promote_types(a.dtype(), b.dtype());
    if (!is_floating(t)) t = kFloat32;
    return run(div_stub, a, b, t, t, 1.0, kName);
  }
  TensorList backward(const Tensor& g) {
    auto [a, b] = saved<2>();
    return {needs_input_grad(0) ? ma.grad(g / b) : Tensor(),
            needs_input_grad(1) ? mb.grad(-(g * a) / (b * b)) : Tensor()};
  }
};

// d(a^b) = b a^(b-1) da + a^b log(a) db; the db term is taken as 0 where a == 0 and
// b >= 0 (the limit), as PyTorch does, instead of 0 * -inf = nan.
struct Pow : Function<Pow> {
  static constexpr const char* kName = "pow";
  InputMeta ma, mb;
  Tensor forward(const Tensor& a, const Tensor& b) {
    ma.set(a), mb.set(b);
    save(a, b);
    Tensor y = run_arith(pow_stub, a, b, 1.0, kName);
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [a, b, y] = saved<3>();
    Tensor da, db;
    if (needs_input_grad(0)) da = ma.grad(g * b * pow(a, b - 1.0));
    if (needs_input_grad(1)) {
      Tensor safe = where(logical_and(eq(a, 0.0), ge(b, 0.0)), zeros_like(y), y * log(a));
      db = mb.grad(g * safe);
    }
    return {da, db};
  }
};

// maximum/minimum: the gradient goes to the larger (smaller) input; ties split it.
template <bool kIsMax>
struct Extremum : Function<Extremum<kIsMax>> {
  static constexpr const char* kName = kIsMax ? "maximum" : "minimum";
  InputMeta ma, mb;
  Tensor forward(const Tensor& a, const Tensor& b) {
    ma.set(a), mb.set(b);
    this->save(a, b);
    return run_arith(kIsMax ? maximum_stub : minimum_stub, a, b, 1.0, kName);
  }
  TensorList backward(const Tensor& g) {
    auto [a, b] = this->template saved<2>();
    Tensor wins = kIsMax ? gt(a, b) : lt(a, b);
    Tensor share = where(wins, ones_like(g), where(eq(a, b), full_like(g, 0.5), zeros_like(g)));
    return {ma.grad(g * share), mb.grad(g * (1.0 - share))};
  }
};

struct Where : Function<Where> {
  static constexpr const char* kName = "where";
  InputMeta ma, mb;
  Tensor forward(const Tensor& cond, const Tensor& a, const Tensor& b) {
    KILN_CHECK(cond.dtype() == kBool, "where: condition must be a bool tensor, got ", cond.meta_str());
    check_same_device(cond, a, kName);
    check_same_device(a, b, kName);
    ma.set(a), mb.set(b);
    save(cond);
    DType t = promote_types(a.dtype(), b.dtype());
    Shape shape = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), kName), kName);
    Tensor out = empty(shape, TensorOptions(t).with_device(a.device()));
    where_stub(a.device(), out, cond, to_dtype(a, t), to_dtype(b, t));
    return out;
  }
  TensorList backward(const Tensor& g) {
    auto [cond] = saved<1>();
    Tensor zero = zeros({}, options_of(g));
    return {Tensor(), ma.grad(where(cond, g, zero)), mb.grad(where(cond, zero, g))};
  }
};

// A double scalar as a 0-d tensor that does not promote t's dtype (PyTorch's rule
// for Python scalars), except that a fractional scalar with an integer tensor gives
// float32.
Tensor scalar_like(const Tensor& t, double v) {
  DType d = t.dtype();
  if (is_integral(d) && v != std::floor(v)) d = kFloat32;
  if (d == kBool && v != 0.0 && v != 1.0) d = kInt64;
  return full({}, v, TensorOptions(d).with_device(t.device()));
}

Tensor compare(const DispatchStub<BinaryKernel>& stub, const Tensor& a, const Tensor& b, const char* op) {
  return run(stub, a, b, promote_types(a.dtype(), b.dtype()), kBool, 1.0, op);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) { return apply<Add>(a, b, alpha); }
Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return apply<Add>(a, b, -alpha); }
Tensor mul(const Tensor& a, const Tensor& b) { return apply<Mul>(a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return apply<Div>(a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return apply<Pow>(a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return apply<Extremum<true>>(a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return apply<Extremum<false>>(a, b); }
Tensor add(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor rsub(const Tensor& a, double b) { return sub(scalar_like(a, b), a); }
Tensor rdiv(const Tensor& a, double b) { return div(scalar_like(a, b), a); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) { return apply<Where>(cond, a, b); }
Tensor where(const Tensor& cond, const Tensor& a, double b) { return where(cond, a, scalar_like(a, b)); }

Tensor eq(const Tensor& a, const Tensor& b) { return compare(eq_stub, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(ne_stub, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(lt_stub, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(le_stub, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(gt_stub, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(ge_stub, a, b, "ge"); }
Tensor eq(const Tensor& a, double b) { return eq(a, scalar_like(a, b)); }
Tensor ne(const Tensor& a, double b) { return ne(a, scalar_like(a, b)); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_like(a, b)); }
Tensor le(const Tensor& a, double b) { return le(a, scalar_like(a, b)); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_like(a, b)); }
Tensor ge(const Tensor& a, double b) { return ge(a, scalar_like(a, b)); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return run(logical_and_stub, a, b, kBool, kBool, 1.0, "logical_and"); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return run(logical_or_stub, a, b, kBool, kBool, 1.0, "logical_or"); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }

// ---- in-place variants: see Note [In-place ops and autograd] ----
namespace {

// Writes op(self, other) into self with the kernel directly (no graph recorded).
void binary_into_self(const DispatchStub<BinaryKernel>& stub, Tensor& self, Tensor other, double alpha,
                      const char* op) {
  check_same_device(self, other, op);
  KILN_CHECK(broadcast_shapes(self.shape(), other.shape(), op) == self.shape(), op, ": the result of shape ",
             broadcast_shapes(self.shape(), other.shape(), op), " does not fit in the tensor written in place, ",
             self.meta_str());
  KILN_CHECK(is_floating(self.dtype()) || is_integral(other.dtype()), op, ": the result would be ",
             dtype_name(promote_types(self.dtype(), other.dtype())), " and cannot be written into ",
             self.meta_str());
  // An operand that overlaps self in another layout would be read after being written.
  if (other.same_storage(self)) other = other.clone();
  stub(self.device(), self, self, to_dtype(other, self.dtype()), alpha);
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  return inplace_update(
      *this, "add_", other.requires_grad(), [&](const Tensor& old) { return add(old, other, alpha).to(dtype()); },
      [&] { binary_into_self(add_stub, *this, other, alpha, "add_"); });
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) { return add_(other, -alpha); }
Tensor& Tensor::mul_(const Tensor& other) {
  return inplace_update(
      *this, "mul_", other.requires_grad(), [&](const Tensor& old) { return mul(old, other).to(dtype()); },
      [&] { binary_into_self(mul_stub, *this, other, 1.0, "mul_"); });
}
Tensor& Tensor::div_(const Tensor& other) {
  return inplace_update(
      *this, "div_", other.requires_grad(), [&](const Tensor& old) { return div(old, other).to(dtype()); },
      [&] { binary_into_self(div_stub, *this, other, 1.0, "div_"); });
}
Tensor& Tensor::add_(double other) { return add_(scalar_like(*this, other)); }
Tensor& Tensor::mul_(double other) { return mul_(scalar_like(*this, other)); }

}  // namespace kiln
