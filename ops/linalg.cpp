// Matrix products: mm, bmm, addmm and matmul's batched broadcast are ops with their own
// backward (dA = g @ B^T, dB = A^T @ g); mv, dot, outer and matmul's 1-D and 2-D cases
// are built from them. All run the GEMM kernel (ops/cpu/linalg.cpp, ops/cpu/gemm.cpp).
// Under autocast mm, bmm, addmm and matmul run in the 16-bit dtype (See Note [Autocast]).
#include "ops/linalg.h"

#include <algorithm>
#include <string>

#include "autograd/function.h"
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/factory.h"
#include "ops/binary.h"
#include "ops/kernels/linalg.h"
#include "ops/view.h"

namespace kiln {

KILN_DEFINE_STUB(gemm_stub, "gemm", GemmKernel);
KILN_DEFINE_STUB(gemm_prepare_stub, "gemm", GemmPrepareKernel);  // one op, three stubs
KILN_DEFINE_STUB(gemm_prepared_stub, "gemm", GemmPreparedKernel);

namespace {

// "float32[2, 3]": what shape errors print of an operand.
std::string type_shape(const Tensor& t) { return detail::concat(dtype_name(t.dtype()), t.shape()); }

// See Note [GEMM operand layout] in ops/kernels/linalg.h.
Tensor gemm_operand(const Tensor& x) {
  bool row_major = x.stride(-1) == 1 || x.size(-1) == 1;
  bool transposed = x.stride(-2) == 1 || x.size(-2) == 1;
  return row_major || transposed ? x : x.contiguous();
}

// a @ b for 2-D, or 3-D with equal batch sizes, into a new tensor.
Tensor run_gemm(const Tensor& a, const Tensor& b) {
  Shape shape = a.shape();
  shape.back() = b.shape().back();
  Tensor out = empty(shape, options_of(a));
  gemm_stub(a.device(), out, gemm_operand(a), gemm_operand(b), 0.0, 1.0);
  return out;
}

Tensor scaled(const Tensor& t, double s) { return s == 1.0 ? t : t * s; }

// What every product asks of its two operands: floating, one dtype, one device.
void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  KILN_CHECK(a.is_floating_point() && b.is_floating_point(), op,
             ": expected floating tensors (float32, float64, float16 or bfloat16), got ", type_shape(a), " and ",
             type_shape(b));
  KILN_CHECK(a.dtype() == b.dtype(), op, ": expected both tensors to have the same dtype, got ", type_shape(a),
             " and ", type_shape(b));
  KILN_CHECK(a.device() == b.device(), op, ": expected both tensors on the same device, got ", a.meta_str(), " and ",
             b.meta_str());
}

void check_inner(const Tensor& a, const Tensor& b, int64_t ka, int64_t kb, const char* op) {
  KILN_CHECK(ka == kb, op, ": cannot multiply ", type_shape(a), " by ", type_shape(b), ": inner dimensions ", ka,
             " and ", kb, " differ");
}

Shape concat_shape(Shape head, const Shape& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// The number of rows of x (..., n, k) with its batch dims folded in: batch * n.
int64_t leading_rows(const Tensor& x) { return numel_of(Shape(x.shape().begin(), x.shape().end() - 1)); }

// The broadcast batch shape of a (..., n, k) and b (..., k, m), NumPy rules on the
// dims before the last two.
Shape broadcast_batch(const Tensor& a, const Tensor& b) {
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  size_t nd = std::max(ba.size(), bb.size());
  Shape out(nd);
  for (size_t i = 0; i < nd; ++i) {
    int64_t sa = i + ba.size() >= nd ? ba[i + ba.size() - nd] : 1;
    int64_t sb = i + bb.size() >= nd ? bb[i + bb.size() - nd] : 1;
    KILN_CHECK(sa == sb || sa == 1 || sb == 1, "matmul: the batch dimensions ", ba, " and ", bb, " of ", type_shape(a),
               " and ", type_shape(b), " do not broadcast");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

// (n, k) @ (k, m) -> (n, m).   da = g @ b^T,  db = a^T @ g
// Note [Gradient layout]
// A Linear layer multiplies by weight.t(), a column-major view of the contiguous weight.
// The gradient of that view computed as a^T @ g is row-major, and reaches the weight as
// its transpose: a column-major gradient, which AccumulateGrad copies into a contiguous
// .grad (autograd/node.cpp) and the optimizer would otherwise read strided. So each
// operand's gradient is computed in that operand's own memory order: for a column-major
// b, db = (g^T @ a)^T, the same products by one GEMM with its operands swapped, whose
// transpose is column-major like b and makes the weight's gradient contiguous.
bool column_major(const Tensor& t) {
  return t.dim() == 2 && t.size(0) > 1 && t.size(1) > 1 && t.stride(0) == 1 && t.stride(1) == t.size(0);
}
// da = g @ b^T, in a's memory order.
Tensor mm_grad_lhs(const Tensor& g, const Tensor& b, const Tensor& a) {
  return column_major(a) ? mm(b, g.t()).t() : mm(g, b.t());
}
// db = a^T @ g, in b's memory order.
Tensor mm_grad_rhs(const Tensor& a, const Tensor& g, const Tensor& b) {
  return column_major(b) ? mm(g.t(), a).t() : mm(a.t(), g);
}

struct Mm : Function<Mm> {
  static constexpr const char* kName = "mm";
  Tensor forward(const Tensor& a, const Tensor& b) {
    save(a, b);
    return run_gemm(a, b);
  }
  TensorList backward(const Tensor& g) {
    auto [a, b] = saved<2>();
    return {needs_input_grad(0) ? mm_grad_lhs(g, b, a) : Tensor(),
            needs_input_grad(1) ? mm_grad_rhs(a, g, b) : Tensor()};
  }
};

// (B, n, k) @ (B, k, m) -> (B, n, m), one mm per batch entry.
struct Bmm : Function<Bmm> {
  static constexpr const char* kName = "bmm";
  Tensor forward(const Tensor& a, const Tensor& b) {
    save(a, b);
    return run_gemm(a, b);
  }
  TensorList backward(const Tensor& g) {
    auto [a, b] = saved<2>();
    return {needs_input_grad(0) ? bmm(g, b.transpose(1, 2)) : Tensor(),
            needs_input_grad(1) ? bmm(a.transpose(1, 2), g) : Tensor()};
  }
};

// beta * bias + alpha * (a @ b), bias broadcast to (n, m).
//   dbias = sum_to(beta g, bias.shape),  da = alpha g @ b^T,  db = alpha a^T @ g
struct Addmm : Function<Addmm> {
  static constexpr const char* kName = "addmm";
  Shape bias_shape;
  double beta = 1, alpha = 1;
  Tensor forward(const Tensor& bias, const Tensor& a, const Tensor& b, double beta_, double alpha_) {
    bias_shape = bias.shape(), beta = beta_, alpha = alpha_;
    save(a, b);
    Tensor out = empty({a.size(0), b.size(1)}, options_of(a));
    if (beta != 0.0) copy_into(out, bias);  // beta == 0 ignores bias, NaN included (as PyTorch)
    gemm_stub(a.device(), out, gemm_operand(a), gemm_operand(b), beta, alpha);
    return out;
  }
  TensorList backward(const Tensor& g) {
    auto [a, b] = saved<2>();
    return {needs_input_grad(0) ? sum_to(scaled(g, beta), bias_shape) : Tensor(),
            needs_input_grad(1) ? scaled(mm_grad_lhs(g, b, a), alpha) : Tensor(),
            needs_input_grad(2) ? scaled(mm_grad_rhs(a, g, b), alpha) : Tensor()};
  }
};

// matmul of a (..., n, k) and b (..., k, m), both at least 2-D and one at least 3-D: the
// batch dims broadcast; out: (batch..., n, m). The gradients are the mm ones, summed
// over the batch dims an operand was broadcast along:
//   da = sum_to(g @ b^T, a.shape),  db = sum_to(a^T @ g, b.shape)
struct Matmul : Function<Matmul> {
  static constexpr const char* kName = "matmul";
  Tensor forward(const Tensor& a, const Tensor& b) {
    save(a, b);
    const int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
    if (b.dim() == 2) {
      // Fold a's batch dims into its rows: one (batch * n, k) @ (k, m) GEMM.
      Shape out_shape = a.shape();
      out_shape.back() = m;
      return run_gemm(a.reshape({leading_rows(a), k}), b).view(out_shape);
    }
    Shape batch = broadcast_batch(a, b);
    const int64_t count = numel_of(batch);
    // Expanded operands keep stride 0 along broadcast dims; reshape copies only when
    // the batch dims cannot be merged into one.
    Tensor a3 = a.expand(concat_shape(batch, {n, k})).reshape({count, n, k});
    Tensor b3 = b.expand(concat_shape(batch, {k, m})).reshape({count, k, m});
    return run_gemm(a3, b3).view(concat_shape(batch, {n, m}));
  }
  TensorList backward(const Tensor& g) {
    auto [a, b] = saved<2>();
    Tensor da, db;
    if (needs_input_grad(0)) {
      if (a.dim() == 2) {
        // a was shared by every matrix of b's batch (a convolution's weight against its
        // im2col columns): da = sum_i g_i @ b_i^T is one GEMM whose inner dim runs over
        // the whole batch, g as (n, batch * m) @ b as (batch * m, k). Two copies of
        // activation size instead of a (batch, n, k) product summed afterwards.
        const int64_t n = a.size(0), k = a.size(1), m = b.size(-1), count = numel_of(b.shape()) / (k * m);
        Tensor g_rows = g.reshape({count, n, m}).permute({1, 0, 2}).reshape({n, count * m});
        Tensor b_rows = b.reshape({count, k, m}).permute({1, 0, 2}).reshape({k, count * m});
        da = mm(g_rows, b_rows.t());
      } else {
        da = sum_to(matmul(g, b.transpose(-1, -2)), a.shape());
      }
    }
    if (needs_input_grad(1)) {
      if (b.dim() == 2) {
        // b was shared by every row of the folded a: one GEMM over all of them,
        // db = a_rows^T @ g_rows with a_rows: (batch * n, k), g_rows: (batch * n, m).
        const int64_t rows = leading_rows(a);
        db = mm_grad_rhs(a.reshape({rows, a.size(-1)}), g.reshape({rows, g.size(-1)}), b);
      } else {
        db = sum_to(matmul(a.transpose(-1, -2), g), b.shape());
      }
    }
    return {da, db};
  }
};

}  // namespace

// ---- public functions ----

Tensor mm(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast_to_lower(a_in), b = autocast_to_lower(b_in);
  KILN_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got ", type_shape(a), " and ", type_shape(b));
  check_operands(a, b, "mm");
  check_inner(a, b, a.size(1), b.size(0), "mm");
  return apply<Mm>(a, b);
}

Tensor bmm(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast_to_lower(a_in), b = autocast_to_lower(b_in);
  KILN_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors, got ", type_shape(a), " and ", type_shape(b));
  check_operands(a, b, "bmm");
  KILN_CHECK(a.size(0) == b.size(0), "bmm: batch sizes ", a.size(0), " and ", b.size(0), " of ", type_shape(a),
             " and ", type_shape(b), " differ");
  check_inner(a, b, a.size(2), b.size(1), "bmm");
  return apply<Bmm>(a, b);
}

Tensor mv(const Tensor& a, const Tensor& v) {
  KILN_CHECK(a.dim() == 2 && v.dim() == 1, "mv: expected a 2-D matrix and a 1-D vector, got ", type_shape(a), " and ",
             type_shape(v));
  check_operands(a, v, "mv");
  check_inner(a, v, a.size(1), v.size(0), "mv");
  return mm(a, v.unsqueeze(1)).squeeze(1);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  KILN_CHECK(a.dim() == 1 && b.dim() == 1, "dot: expected 1-D tensors, got ", type_shape(a), " and ", type_shape(b));
  check_operands(a, b, "dot");
  check_inner(a, b, a.size(0), b.size(0), "dot");
  return mm(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
}

Tensor outer(const Tensor& a, const Tensor& b) {
  KILN_CHECK(a.dim() == 1 && b.dim() == 1, "outer: expected 1-D tensors, got ", type_shape(a), " and ",
             type_shape(b));
  check_operands(a, b, "outer");
  return mm(a.unsqueeze(1), b.unsqueeze(0));
}

Tensor addmm(const Tensor& bias_in, const Tensor& a_in, const Tensor& b_in, double beta, double alpha) {
  const Tensor bias = autocast_to_lower(bias_in), a = autocast_to_lower(a_in), b = autocast_to_lower(b_in);
  KILN_CHECK(a.dim() == 2 && b.dim() == 2, "addmm: expected 2-D matrices, got ", type_shape(a), " and ",
             type_shape(b));
  check_operands(a, b, "addmm");
  check_operands(bias, a, "addmm");
  check_inner(a, b, a.size(1), b.size(0), "addmm");
  const Shape out_shape{a.size(0), b.size(1)};
  bool broadcasts = bias.dim() <= 2;
  for (int64_t d = 1; broadcasts && d <= bias.dim(); ++d) {
    int64_t s = bias.size(-d);
    broadcasts = s == 1 || s == out_shape[size_t(2 - d)];
  }
  KILN_CHECK(broadcasts, "addmm: bias ", type_shape(bias), " cannot be broadcast to the output shape ", out_shape);
  return apply<Addmm>(bias, a, b, beta, alpha);
}

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast_to_lower(a_in), b = autocast_to_lower(b_in);
  KILN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: expected tensors with at least 1 dimension, got ", type_shape(a),
             " and ", type_shape(b));
  check_operands(a, b, "matmul");
  check_inner(a, b, a.size(-1), b.dim() == 1 ? b.size(0) : b.size(-2), "matmul");
  if (a.dim() <= 2 && b.dim() <= 2) {
    if (a.dim() == 1 && b.dim() == 1) return dot(a, b);
    if (b.dim() == 1) return mv(a, b);
    if (a.dim() == 1) return mm(a.unsqueeze(0), b).squeeze(0);
    return mm(a, b);
  }
  // Batched: a 1-D operand becomes a 1-row (or 1-column) matrix, and its dim is
  // removed from the result again.
  if (a.dim() == 1) return apply<Matmul>(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return apply<Matmul>(a, b.unsqueeze(1)).squeeze(-1);
  return apply<Matmul>(a, b);
}

Tensor Tensor::matmul(const Tensor& other) const { return kiln::matmul(*this, other); }

}  // namespace kiln
