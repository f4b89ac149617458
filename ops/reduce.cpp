// Reductions: sum, mean, prod, var/std, norm, logsumexp, amax/amin, max/min (with
// indices), argmax/argmin, all/any. Argument checks, output shapes and backward formulas
// live here; the kernels are in ops/cpu/reduce.cpp. softmax is in ops/softmax.cpp.
#include "ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/function.h"
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/reduce.h"
#include "ops/unary.h"
#include "ops/view.h"

namespace kiln {

KILN_DEFINE_STUB(sum_stub, "sum", ReduceKernel);
KILN_DEFINE_STUB(prod_stub, "prod", ReduceKernel);
KILN_DEFINE_STUB(var_stub, "var", ReduceKernel);
KILN_DEFINE_STUB(norm_stub, "norm", ReduceKernel);
KILN_DEFINE_STUB(amax_stub, "amax", ReduceKernel);
KILN_DEFINE_STUB(amin_stub, "amin", ReduceKernel);
KILN_DEFINE_STUB(all_stub, "all", ReduceKernel);
KILN_DEFINE_STUB(any_stub, "any", ReduceKernel);
KILN_DEFINE_STUB(max_dim_stub, "max", ArgReduceKernel);
KILN_DEFINE_STUB(min_dim_stub, "min", ArgReduceKernel);

namespace {

// What a reduction over `dims` of x does to shapes. dims empty means every dim; dims
// may be negative; a dim named twice is an error. A 0-d tensor accepts dim 0 and -1
// (as PyTorch), which reduce nothing.
struct Reduction {
  Shape in_shape;
  std::vector<bool> reduced;  // per dim of x
  IntList dims;               // the reduced dims, sorted, non-negative
  Shape keep_shape;           // in_shape with the reduced dims set to 1
  Shape out_shape;            // keep_shape, or without the reduced dims unless keepdim
  int64_t count = 1;          // elements folded into each output (0 if a reduced dim is empty)
  bool keepdim = false;
};

Reduction plan_reduction(const Tensor& x, const IntList& dims, bool keepdim, const char* op) {
  Reduction r;
  r.in_shape = x.shape();
  r.keepdim = keepdim;
  const int64_t nd = x.dim();
  r.reduced.assign(size_t(nd), dims.empty());
  std::vector<bool> seen(size_t(std::max<int64_t>(nd, 1)), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd, op);
    KILN_CHECK(!seen[size_t(w)], op, ": dim ", w, " appears more than once in dims ", dims);
    seen[size_t(w)] = true;
    if (nd > 0) r.reduced[size_t(w)] = true;
  }
  for (int64_t d = 0; d < nd; ++d) {
    int64_t size = r.in_shape[size_t(d)];
    if (r.reduced[size_t(d)]) {
      r.dims.push_back(d);
      r.count *= size;
      r.keep_shape.push_back(1);
      if (keepdim) r.out_shape.push_back(1);
    } else {
      r.keep_shape.push_back(size);
      r.out_shape.push_back(size);
    }
  }
  return r;
}

// Note [Reduction layout]
// Every reduction kernel sees x as a contiguous (outer, reduced, inner) tensor and
// writes (outer, inner):
//   - when the reduced dims are neighbours (size-1 dims in between do not count), a
//     contiguous x already is that tensor: outer = the product of the sizes before
//     them, inner = the product after; no copy (beyond contiguous() of a strided x);
//   - otherwise the reduced dims are permuted to the end and x copied contiguous,
//     (kept..., reduced...) = (outer, reduced, 1).
// In both cases the outputs in row-major (outer, inner) order are the kept dims in
// row-major order, so the kernel writes straight into the result tensor.
Tensor as_3d(const Tensor& x, const Reduction& r) {
  const int64_t nd = x.dim();
  int64_t lo = -1, hi = -1;  // first and last reduced dim of size != 1
  for (int64_t d = 0; d < nd; ++d) {
    if (r.reduced[size_t(d)] && r.in_shape[size_t(d)] != 1) {
      if (lo < 0) lo = d;
      hi = d;
    }
  }
  if (lo < 0) return x.contiguous().reshape({x.numel(), 1, 1});
  bool neighbours = true;
  for (int64_t d = lo; d <= hi; ++d) neighbours = neighbours && (r.reduced[size_t(d)] || r.in_shape[size_t(d)] == 1);
  if (neighbours) {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < lo; ++d) outer *= r.in_shape[size_t(d)];
    for (int64_t d = hi + 1; d < nd; ++d) inner *= r.in_shape[size_t(d)];
    return x.contiguous().reshape({outer, r.count, inner});
  }
  IntList perm;
  int64_t outer = 1;
  for (int64_t d = 0; d < nd; ++d) {
    if (!r.reduced[size_t(d)]) {
      perm.push_back(d);
      outer *= r.in_shape[size_t(d)];
    }
  }
  perm.insert(perm.end(), r.dims.begin(), r.dims.end());
  return x.permute(perm).contiguous().reshape({outer, r.count, 1});
}

// Runs a reduction kernel into a new tensor of r.out_shape.
Tensor run_reduce(const DispatchStub<ReduceKernel>& stub, const Tensor& x, const Reduction& r, double param,
                  DType out_dtype) {
  Tensor x3 = as_3d(x, r);
  Tensor out = empty(r.out_shape, TensorOptions(out_dtype).with_device(x.device()));
  stub(x.device(), out.view({x3.size(0), x3.size(2)}), x3, param);
  return out;
}

// A tensor shaped like the output, with the reduced dims back as size 1, so that it
// broadcasts against the input. Differentiable (a reshape).
Tensor unsqueeze_reduced(const Tensor& t, const Reduction& r) { return r.keepdim ? t : t.reshape(r.keep_shape); }

// The backward of summing: every input element receives its output's gradient.
Tensor expand_reduced(const Tensor& g, const Reduction& r) { return unsqueeze_reduced(g, r).expand(r.in_shape); }

void check_floating(const Tensor& x, const char* op) {
  KILN_CHECK(x.is_floating_point(), op, ": expected a floating input (float32 or float64), got ", x.meta_str());
}

void check_nonempty(const Tensor& x, const Reduction& r, const char* op) {
  KILN_CHECK(r.count > 0, op, ": cannot reduce over an empty dim (input ", x.meta_str(), ", dims ", r.dims,
             "): the ", op, " of no elements is undefined");
}

// bool and uint8 inputs sum and multiply as int64, as in PyTorch.
Tensor widen_integers(const Tensor& x) { return x.is_floating_point() ? x : x.to(kInt64); }

struct Sum : Function<Sum> {  // d/dx_i sum_j x_j = 1
  static constexpr const char* kName = "sum";
  Reduction r;
  Tensor forward(const Tensor& x, const IntList& dims, bool keepdim) {
    r = plan_reduction(x, dims, keepdim, kName);
    Tensor in = widen_integers(x);
    return run_reduce(sum_stub, in, r, 1.0, in.dtype());
  }
  TensorList backward(const Tensor& g) { return {expand_reduced(g, r)}; }
};

struct Mean : Function<Mean> {  // d/dx_i (1/N) sum_j x_j = 1/N
  static constexpr const char* kName = "mean";
  Reduction r;
  Tensor forward(const Tensor& x, const IntList& dims, bool keepdim) {
    KILN_CHECK(x.is_floating_point(), "mean: expected a floating input (float32, float64, float16 or bfloat16), got ",
               x.meta_str());
    r = plan_reduction(x, dims, keepdim, kName);
    // N = 0 gives 0 * (1/0) = NaN, as PyTorch's mean of nothing.
    return run_reduce(sum_stub, x, r, 1.0 / double(r.count), x.dtype());
  }
  TensorList backward(const Tensor& g) { return {expand_reduced(g, r) / double(r.count)}; }
};

// d/dx_i prod_j x_j = prod_{j != i} x_j, the product of the others. Without zeros in a
// slice that is y / x_i. With zeros (the division is 0/0), by the number z of zeros in
// the slice: z = 1: the zero element gets the product of the non-zero others, every
// other element 0; z >= 2: every element 0 (each product of others has a zero).
// NOTE: the zero case's gradient is exact, but differentiating it again treats which
// elements are zero as fixed, so its second derivative misses the terms through the
// zero element.
struct Prod : Function<Prod> {
  static constexpr const char* kName = "prod";
  Reduction r;
  Tensor forward(const Tensor& x, const IntList& dims, bool keepdim) {
    r = plan_reduction(x, dims, keepdim, kName);
    save(x);
    Tensor in = widen_integers(x);
    Tensor y = run_reduce(prod_stub, in, r, 0.0, in.dtype());
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [x, y] = saved<2>();
    Tensor gu = unsqueeze_reduced(g, r);
    Tensor is_zero = eq(x, 0.0);
    if (!any(is_zero).item<bool>()) return {gu * unsqueeze_reduced(y, r) / x};
    Tensor nonzero = where(is_zero, ones_like(x), x);                 // zeros replaced by 1
    Tensor prod_nonzero = prod(nonzero, r.dims, /*keepdim=*/true);      // product of non-zero elements
    Tensor zeros_in_slice = sum(is_zero, r.dims, /*keepdim=*/true);     // z, int64
    Tensor no_zero = eq(zeros_in_slice, 0.0).expand(r.in_shape);
    Tensor lone_zero = logical_and(eq(zeros_in_slice, 1.0), is_zero);
    Tensor others = where(no_zero, prod_nonzero / nonzero, where(lone_zero, prod_nonzero.expand(r.in_shape), 0.0));
    return {gu * others};
  }
};

// var = sum_j (x_j - mean)^2 / (N - c): d var / d x_i = 2 (x_i - mean) / (N - c) (the
// terms through the mean sum to zero). c is 1 for the unbiased estimate, else 0.
struct Var : Function<Var> {
  static constexpr const char* kName = "var";
  Reduction r;
  double correction = 1;
  Tensor forward(const Tensor& x, const IntList& dims, bool unbiased, bool keepdim) {
    check_floating(x, kName);
    r = plan_reduction(x, dims, keepdim, kName);
    correction = unbiased ? 1.0 : 0.0;
    save(x);
    return run_reduce(var_stub, x, r, correction, x.dtype());
  }
  TensorList backward(const Tensor& g) {
    auto [x] = saved<1>();
    Tensor centered = x - mean(x, r.dims, /*keepdim=*/true);
    return {centered * (unsqueeze_reduced(g, r) * (2.0 / (double(r.count) - correction)))};
  }
};

// y = ||x||_p = (sum |x|^p)^(1/p):
//   dy/dx_i = sign(x_i) |x_i|^(p-1) / y^(p-1)   (general p; p = 2: x_i / y; p = 1: sign(x_i))
//   p = inf: y = max |x|, the gradient sign(x_i) goes to the elements where |x_i| = y,
//   split equally among ties (as amax).
// Where y = 0 the gradient is 0 (PyTorch's choice of subgradient).
struct Norm : Function<Norm> {
  static constexpr const char* kName = "norm";
  Reduction r;
  double p = 2;
  Tensor forward(const Tensor& x, double p_, const IntList& dims, bool keepdim) {
    check_floating(x, kName);
    KILN_CHECK(p_ > 0, "norm: expected p > 0 (or inf), got p = ", p_);
    p = p_;
    r = plan_reduction(x, dims, keepdim, kName);
    save(x);
    Tensor y = run_reduce(norm_stub, x, r, p, x.dtype());
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [x, y] = saved<2>();
    Tensor gu = unsqueeze_reduced(g, r);
    if (p == 1) return {sign(x) * gu};
    Tensor yu = unsqueeze_reduced(y, r);
    if (std::isinf(p)) {
      Tensor ax = abs(x);
      Tensor at_max = eq(ax, yu).to(x.dtype());
      Tensor ties = sum(at_max, r.dims, /*keepdim=*/true);
      return {sign(x) * at_max * (gu / ties)};
    }
    // Divide by y only where it is non-zero; dividing by the 1 put elsewhere keeps
    // NaN out of the second derivative too.
    Tensor nonzero = ne(yu, 0.0);
    Tensor y_safe = where(nonzero, yu, 1.0);
    if (p == 2) return {x * where(nonzero, gu / y_safe, 0.0)};
    Tensor scale = where(nonzero, gu / pow(y_safe, p - 1), 0.0);
    return {sign(x) * pow(abs(x), p - 1) * scale};
  }
};

// y = log sum_j exp(x_j): dy/dx_i = exp(x_i - y), the softmax of x over dims.
// The forward subtracts m = max x first so that exp never overflows; a slice whose
// max is infinite uses m = 0 instead (-inf - -inf would be NaN).
struct LogSumExp : Function<LogSumExp> {
  static constexpr const char* kName = "logsumexp";
  Reduction r;
  Tensor forward(const Tensor& x, const IntList& dims, bool keepdim) {
    check_floating(x, kName);
    r = plan_reduction(x, dims, keepdim, kName);
    save(x);
    Tensor y;
    if (r.count == 0) {
      y = full(r.out_shape, -std::numeric_limits<double>::infinity(), options_of(x));  // log 0
    } else {
      Tensor m = amax(x, r.dims, /*keepdim=*/true);
      m = where(isfinite(m), m, 0.0);
      Tensor lse = log(sum(exp(x - m), r.dims, /*keepdim=*/true)) + m;
      y = lse.reshape(r.out_shape);
    }
    save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [x, y] = saved<2>();
    return {unsqueeze_reduced(g, r) * exp(x - unsqueeze_reduced(y, r))};
  }
};

// amax/amin, and max()/min() over all elements. The gradient goes to the elements equal
// to the result, split equally among ties: dy/dx_i = [x_i == y] / #{j : x_j == y}.
template <bool kMax>
struct Extremum : Function<Extremum<kMax>> {
  static constexpr const char* kName = kMax ? "amax" : "amin";
  Reduction r;
  Tensor forward(const Tensor& x, const IntList& dims, bool keepdim, const char* op) {
    r = plan_reduction(x, dims, keepdim, op);
    check_nonempty(x, r, op);
    this->save(x);
    Tensor y = run_reduce(kMax ? amax_stub : amin_stub, x, r, 0.0, x.dtype());
    this->save_output(y);
    return y;
  }
  TensorList backward(const Tensor& g) {
    auto [x, y] = this->template saved<2>();
    Tensor at_extremum = eq(x, unsqueeze_reduced(y, r)).to(x.dtype());
    Tensor ties = sum(at_extremum, r.dims, /*keepdim=*/true);
    return {at_extremum * (unsqueeze_reduced(g, r) / ties)};
  }
};

// Values and first indices of the max/min along one dim, without autograd.
TensorList arg_extremum(const Tensor& x, int64_t dim, bool keepdim, bool is_max, const char* op, Reduction* plan) {
  Reduction r = plan_reduction(x, {dim}, keepdim, op);
  check_nonempty(x, r, op);
  Tensor x3 = as_3d(x, r);
  Tensor values = empty(r.out_shape, options_of(x));
  Tensor indices = empty(r.out_shape, TensorOptions(kInt64).with_device(x.device()));
  Shape out2d = {x3.size(0), x3.size(2)};
  (is_max ? max_dim_stub : min_dim_stub)(x.device(), values.view(out2d), indices.view(out2d), x3);
  if (plan) *plan = r;
  return {values, indices};
}

// max/min along a dim: the whole gradient goes to the element at the returned index
// (ties are not split: the index picks one), through a one-hot mask
// [j == index] along the dim.
template <bool kMax>
struct ExtremumDim : Function<ExtremumDim<kMax>> {
  static constexpr const char* kName = kMax ? "max" : "min";
  Reduction r;
  int64_t dim = 0;
  TensorList forward(const Tensor& x, int64_t dim_, bool keepdim) {
    TensorList out = arg_extremum(x, dim_, keepdim, kMax, kName, &r);
    dim = r.dims.empty() ? 0 : r.dims[0];
    this->save(out[1]);
    return out;
  }
  TensorList backward(const TensorList& grads) {
    auto [indices] = this->template saved<1>();
    Tensor gu = unsqueeze_reduced(grads[0], r);
    if (r.dims.empty()) return {gu};  // a 0-d input is its own max
    Shape positions_shape(r.in_shape.size() - size_t(dim), 1);
    positions_shape[0] = r.in_shape[size_t(dim)];
    Tensor positions = arange(double(r.in_shape[size_t(dim)]), TensorOptions(kInt64).with_device(gu.device()))
                           .reshape(positions_shape);
    Tensor one_hot = eq(positions, unsqueeze_reduced(indices, r)).to(gu.dtype());
    return {one_hot * gu};
  }
};

}  // namespace

// Under autocast, 16-bit inputs of sum and prod are summed as float32 and give float32
// (PyTorch's fp32 policy for them; See Note [Autocast]).
Tensor sum(const Tensor& x, const IntList& dims, bool keepdim) {
  return apply<Sum>(autocast_to_float(x), dims, keepdim);
}
Tensor mean(const Tensor& x, const IntList& dims, bool keepdim) { return apply<Mean>(x, dims, keepdim); }
Tensor prod(const Tensor& x, const IntList& dims, bool keepdim) {
  return apply<Prod>(autocast_to_float(x), dims, keepdim);
}
Tensor var(const Tensor& x, const IntList& dims, bool unbiased, bool keepdim) {
  return apply<Var>(x, dims, unbiased, keepdim);
}
// std = sqrt(var), so d std = d var / (2 std) comes from sqrt's backward.
Tensor std(const Tensor& x, const IntList& dims, bool unbiased, bool keepdim) {
  check_floating(x, "std");
  return sqrt(var(x, dims, unbiased, keepdim));
}
Tensor norm(const Tensor& x, double p, const IntList& dims, bool keepdim) { return apply<Norm>(x, p, dims, keepdim); }
Tensor logsumexp(const Tensor& x, const IntList& dims, bool keepdim) { return apply<LogSumExp>(x, dims, keepdim); }
Tensor amax(const Tensor& x, const IntList& dims, bool keepdim) {
  return apply<Extremum<true>>(x, dims, keepdim, "amax");
}
Tensor amin(const Tensor& x, const IntList& dims, bool keepdim) {
  return apply<Extremum<false>>(x, dims, keepdim, "amin");
}

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  TensorList out = apply<ExtremumDim<true>>(x, dim, keepdim);
  return {out[0], out[1]};
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  TensorList out = apply<ExtremumDim<false>>(x, dim, keepdim);
  return {out[0], out[1]};
}
Tensor max(const Tensor& x) { return apply<Extremum<true>>(x, IntList{}, false, "max"); }
Tensor min(const Tensor& x) { return apply<Extremum<false>>(x, IntList{}, false, "min"); }

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extremum(x.detach(), dim, keepdim, true, "argmax", nullptr)[1];
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extremum(x.detach(), dim, keepdim, false, "argmin", nullptr)[1];
}
// The flat index into x in row-major order, as PyTorch's argmax without dim.
Tensor argmax(const Tensor& x) { return arg_extremum(x.detach().reshape({-1}), 0, false, true, "argmax", nullptr)[1]; }
Tensor argmin(const Tensor& x) { return arg_extremum(x.detach().reshape({-1}), 0, false, false, "argmin", nullptr)[1]; }

Tensor all(const Tensor& x) {
  return run_reduce(all_stub, x, plan_reduction(x, {}, false, "all"), 0.0, kBool);
}
Tensor any(const Tensor& x) {
  return run_reduce(any_stub, x, plan_reduction(x, {}, false, "any"), 0.0, kBool);
}

Tensor Tensor::sum(const IntList& dims, bool keepdim) const { return kiln::sum(*this, dims, keepdim); }
Tensor Tensor::mean(const IntList& dims, bool keepdim) const { return kiln::mean(*this, dims, keepdim); }
Tensor Tensor::max() const { return kiln::max(*this); }
Tensor Tensor::min() const { return kiln::min(*this); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return kiln::argmax(*this, dim, keepdim); }

}  // namespace kiln
